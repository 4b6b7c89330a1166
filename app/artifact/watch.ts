import fs from 'node:fs';
import type { Logger } from '../../core/logger';

export interface DirectoryWatchOptions {
  directories: readonly string[];
  /** Called (debounced) after anything changed in a directory, and on every poll. */
  onChange: () => void;
  logger: Logger;
  debounceMs?: number;
  /** Safety net for missed events (network filesystems, a directory created late). */
  pollIntervalMs?: number;
}

export interface DirectoryWatch {
  close(): void;
}

/**
 * Watches directories, not files: the kubelet publishes a ConfigMap by swapping the `..data` symlink and editors
 * save by renaming, both of which leave a watch on the old file looking at a dead inode.
 */
export function watchDirectories(options: DirectoryWatchOptions): DirectoryWatch {
  const { logger, onChange } = options;
  const debounceMs = options.debounceMs ?? 25;
  const watchers = new Map<string, fs.FSWatcher>();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  function schedule(): void {
    if (closed || timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      onChange();
    }, debounceMs);
  }

  function watch(directory: string): void {
    if (watchers.has(directory)) return;
    try {
      const watcher = fs.watch(directory, { persistent: false }, schedule);
      watcher.on('error', (error) => {
        logger.warn(
          { directory, err: error },
          'directory watch failed; relying on the poll until it is back',
        );
        watcher.close();
        watchers.delete(directory);
      });
      watchers.set(directory, watcher);
    } catch (error) {
      logger.debug({ directory, err: error }, 'cannot watch the directory yet; polling it');
    }
  }

  for (const directory of options.directories) watch(directory);
  const poll = setInterval(() => {
    for (const directory of options.directories) watch(directory);
    onChange();
  }, options.pollIntervalMs ?? 30_000);
  poll.unref();

  return {
    close() {
      closed = true;
      clearInterval(poll);
      if (timer) clearTimeout(timer);
      for (const watcher of watchers.values()) watcher.close();
      watchers.clear();
    },
  };
}
