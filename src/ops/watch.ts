/**
 * Watches one config file for changes the way editors and Kubernetes actually change files: in-place
 * writes, write-to-temp + rename, and ConfigMap `..data` symlink swaps. The directory is watched as well as
 * the file because a rename leaves a file watch pointing at the old inode.
 */
import fs from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

/** A running watch. */
export interface FileWatch {
  /**
   * Also watches these files (secrets, certificates the config references); a change to one re-applies the
   * config even though its own text is unchanged. Replaces the previous set.
   */
  setExtraFiles(paths: readonly string[]): void;
  close(): void;
}

/** Options: debounce (default 250 ms, like agentgateway) and the text already loaded (not reported again). */
export interface WatchOptions {
  readonly debounceMs?: number;
  readonly initialText?: string;
  /** Called when a watcher itself fails (e.g. the directory was removed). */
  readonly onWatchError?: (err: Error) => void;
  /** Called after each debounced check, changed or not (lets tests observe "nothing happened"). */
  readonly onSettled?: () => void;
}

/**
 * Calls `onChange(text)` with the new content after the file changed and stayed quiet for the debounce.
 * Bursts collapse into one call; identical content is ignored (unless a referenced file changed); calls
 * never overlap.
 */
export function watchConfigFile(file: string, onChange: (text: string) => Promise<void>, opts: WatchOptions = {}): FileWatch {
  const abs = path.resolve(file);
  const dir = path.dirname(abs);
  const base = path.basename(abs);
  const debounceMs = opts.debounceMs ?? 250;
  let last = opts.initialText;
  let timer: NodeJS.Timeout | undefined;
  let running = false;
  let again = false;
  let closed = false;
  let fileWatcher: fs.FSWatcher | undefined;
  let extraWatchers: fs.FSWatcher[] = [];
  /** Set when a referenced file changed: apply even if the config text is the same. */
  let forced = false;

  const onError = (err: Error): void => opts.onWatchError?.(err);

  const armFileWatch = (): void => {
    fileWatcher?.close();
    fileWatcher = undefined;
    try {
      fileWatcher = fs.watch(abs, () => schedule());
      fileWatcher.on('error', onError);
    } catch {
      // Mid-replace the file may not exist; the directory watch fires again once it does.
    }
  };

  const check = async (): Promise<void> => {
    if (closed) return;
    if (running) {
      again = true;
      return;
    }
    running = true;
    const force = forced;
    forced = false;
    try {
      armFileWatch();
      let text: string;
      try {
        text = await readFile(abs, 'utf8');
      } catch {
        return;
      }
      // Editors and writeFile truncate before writing: an empty read is a write in progress, and the
      // write that follows fires another event. (Applying it would close every bind.)
      if ((text === last && !force) || closed || text.trim() === '') return;
      last = text;
      await onChange(text);
    } finally {
      running = false;
      opts.onSettled?.();
      if (again && !closed) {
        again = false;
        schedule();
      }
    }
  };

  function schedule(force = false): void {
    if (closed) return;
    if (force) forced = true;
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => void check(), debounceMs);
  }

  const dirWatcher = fs.watch(dir, (_event, name) => {
    // `..data`-style names are Kubernetes' atomic symlink swap; a null name means "something changed".
    if (name === null || name === base || name.startsWith('..')) schedule();
  });
  dirWatcher.on('error', onError);
  armFileWatch();

  const closeExtra = (): void => {
    for (const w of extraWatchers) w.close();
    extraWatchers = [];
  };

  return {
    setExtraFiles(paths) {
      closeExtra();
      if (closed) return;
      const byDir = new Map<string, Set<string>>();
      for (const p of paths) {
        const a = path.resolve(p);
        const names = byDir.get(path.dirname(a)) ?? new Set<string>();
        names.add(path.basename(a));
        byDir.set(path.dirname(a), names);
      }
      for (const [d, names] of byDir) {
        try {
          // Directory watches, for the same reason as the config file: rotations replace files.
          const w = fs.watch(d, (_event, name) => {
            if (name === null || names.has(name) || name.startsWith('..')) schedule(true);
          });
          w.on('error', onError);
          extraWatchers.push(w);
        } catch (err) {
          onError(err as Error);
        }
      }
    },
    close() {
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      dirWatcher.close();
      fileWatcher?.close();
      closeExtra();
    },
  };
}
