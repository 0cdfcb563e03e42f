// The host of one ONNX Runtime session on its own thread (src/models/session.ts, WorkerSession).
//
// Why: onnxruntime-node runs InferenceSession.run() synchronously on the calling thread (inside a
// setImmediate), so on the main thread every model run blocks the event loop: measured with
// --cpu-prof on 4 cameras, 36% of the main thread's time was ORT runs, during which GStreamer
// pipes, WebSocket sends and timers all waited. Here the run blocks this thread instead.
//
// Plain JavaScript on purpose: worker threads do not inherit the TypeScript loader (tsx), so a
// .ts worker cannot start under `node bin/facegate.js`. The protocol is tiny:
//   {op:'open', source, options}        -> {op:'opened', inputNames, outputNames, inputMetadata} | {op:'failed', message}
//   {op:'run', id, feeds}               -> {op:'result', id, outputs, inputs} | {op:'error', id, message, inputs}
//   {op:'release'}                      -> {op:'released'}, then the thread ends
// Tensors travel as {type, data, dims}. Input buffers arrive transferred and go back with the
// reply (the main thread pools them); outputs are transferred when their buffer allows it.
import { parentPort } from 'node:worker_threads';
import ort from 'onnxruntime-node';

let session;

const message = (e) => (e instanceof Error ? e.message : String(e));

parentPort.on('message', async (msg) => {
  if (msg.op === 'open') {
    try {
      session = await ort.InferenceSession.create(msg.source, msg.options);
      // Metadata as plain objects (structured clone): the main thread shapes its probe run from it.
      const inputMetadata = session.inputMetadata.map((m) => (m.isTensor ? { name: m.name, isTensor: true, type: m.type, shape: [...m.shape] } : { name: m.name, isTensor: false }));
      parentPort.postMessage({ op: 'opened', inputNames: session.inputNames, outputNames: session.outputNames, inputMetadata });
    } catch (e) {
      parentPort.postMessage({ op: 'failed', message: message(e) });
    }
    return;
  }
  if (msg.op === 'run') {
    // The input buffers go back to the main thread's pool with the reply (transferred, not copied).
    const inputs = Object.values(msg.feeds).map((t) => t.data.buffer);
    try {
      if (!session) throw new Error('the session is not open');
      const feeds = {};
      for (const [name, t] of Object.entries(msg.feeds)) feeds[name] = new ort.Tensor(t.type, t.data, t.dims);
      const out = await session.run(feeds);
      const outputs = {};
      const buffers = [];
      for (const [name, t] of Object.entries(out)) {
        outputs[name] = { type: t.type, data: t.data, dims: t.dims };
        if (t.data && t.data.buffer instanceof ArrayBuffer) buffers.push(t.data.buffer);
      }
      try {
        parentPort.postMessage({ op: 'result', id: msg.id, outputs, inputs }, [...buffers, ...inputs]);
      } catch {
        // A buffer that cannot be transferred (memory ONNX Runtime owns) is copied instead.
        parentPort.postMessage({ op: 'result', id: msg.id, outputs, inputs }, inputs);
      }
    } catch (e) {
      parentPort.postMessage({ op: 'error', id: msg.id, message: message(e), inputs }, inputs);
    }
    return;
  }
  if (msg.op === 'release') {
    try {
      await session?.release();
    } finally {
      session = undefined;
      parentPort.postMessage({ op: 'released' });
      parentPort.close();
    }
  }
});
