// Loaded first, as a classic script, by the pages the test runners drive
// (web/browser.mjs reads window.__errors in every engine): records
// uncaught exceptions, unhandled rejections, scripts and styles that failed
// to load, and console.error calls. WebDriver, which drives WebKit, has no
// event stream for these.
(() => {
  const errors = (self.__errors = []);
  const push = (what) => { if (errors.length < 200) errors.push(String(what)); };
  addEventListener('error', (e) => {
    if (e.target && e.target !== self && e.target !== document) {
      push(`failed to load ${e.target.src || e.target.href || e.target.tagName}`);
    } else {
      push(e.error?.stack ?? e.error ?? `${e.message} (${e.filename}:${e.lineno})`);
    }
  }, true);
  addEventListener('unhandledrejection', (e) => push(`unhandled rejection: ${e.reason?.stack ?? e.reason}`));
  const consoleError = console.error.bind(console);
  console.error = (...args) => {
    push(args.map((a) => a?.stack ?? a).join(' '));
    consoleError(...args);
  };
})();
