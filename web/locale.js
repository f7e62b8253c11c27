// Loaded before uPlot: WebKitGTK takes navigator.language from the
// process locale, and under LANG=C or C.UTF-8 (the default of Debian's
// containers and of many CI machines) it is "C", which is no BCP 47 tag:
// `new Intl.NumberFormat("C")` throws a RangeError. uPlot builds its number
// format from navigator.language as it loads, so there it would not load at
// all (and `new uPlot(...)` would throw "undefined is not a constructor").
// Where navigator.language is not a valid tag, it becomes the first of
// navigator.languages that is, else "en-US".
(() => {
  const valid = (tag) => {
    try {
      return Intl.getCanonicalLocales(tag).length === 1;
    } catch {
      return false;
    }
  };
  if (valid(navigator.language)) return;
  const tag = (navigator.languages ?? []).find(valid) ?? 'en-US';
  Object.defineProperty(navigator, 'language', { configurable: true, get: () => tag });
})();
