/**
 * Preloaded (`--import`) into the server under load test, beside npm start's own flags: answers a parent's
 * IPC request with the process's memory, measured after a full garbage collection when `--expose-gc` is on,
 * so heap samples show what is retained rather than where the collector happened to be.
 */
if (process.send) {
  process.on('message', (message) => {
    if (message?.type !== 'memory') return;
    const collected = typeof globalThis.gc === 'function';
    if (collected) globalThis.gc();
    const { rss, heapUsed } = process.memoryUsage();
    process.send({ type: 'memory', id: message.id, rss, heapUsed, collected });
  });
  // The channel must not keep the server alive once it wants to exit.
  process.channel?.unref();
}
