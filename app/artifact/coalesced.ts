/**
 * Runs `pass` one at a time for the file stores (model artifacts, the routing file): a call while a pass runs asks
 * for one more pass after it, however many calls came, and resolves with that one. A burst of watch events thus
 * costs one extra read, and no caller returns before a pass that started after its call has finished.
 */
export function coalesced(pass: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  let again = false;
  return () => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      try {
        do {
          again = false;
          await pass();
        } while (again);
      } finally {
        running = undefined;
      }
    })();
    return running;
  };
}
