// The probe's worker (web/probe.js): answers at once that it started, then
// does what it is asked on the memory or buffer it is sent.
postMessage({ started: performance.now() + performance.timeOrigin });
onmessage = ({ data }) => {
  const out = {};
  try {
    if (data.grow) {
      out.grownFrom = data.grow.grow(1);
      out.bytes = data.grow.buffer.byteLength;
    }
    if (data.wait) {
      out.wait = Atomics.wait(new Int32Array(data.wait), 0, 0, 1);
    }
  } catch (e) {
    out.error = String(e);
  }
  postMessage(out);
};
