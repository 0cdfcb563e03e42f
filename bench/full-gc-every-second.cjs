// Preloaded by `bench rss --variants full-gc-1s` (node --expose-gc --require this file): a full
// V8 collection every second, to measure how much of the service's resident memory is frames that
// are dead but not yet collected (V8 frees an old ArrayBuffer only at a full collection). An
// experiment for the bench, not something the service does.
setInterval(() => globalThis.gc(), 1000).unref();
