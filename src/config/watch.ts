/**
 * Hot reload: watch the config file's folder (editors save by writing a temporary file and
 * renaming it over the old one, which a watch on the file itself would lose), debounce, re-read
 * and re-validate. An invalid file is reported and the running config stays; a valid one is
 * swapped in atomically and announced with the diff, so only what changed is restarted.
 */
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { BehaviorSubject, type Observable } from 'rxjs';
import { diffConfig, type ConfigDiff } from './diff.ts';
import { ConfigError, isConfigError } from './errors.ts';
import { parseConfigText, readConfigText } from './parse.ts';
import type { Config } from './schema.ts';

export interface WatchConfigOptions {
  /** A valid file that differs from the running config: `next` is now current. */
  readonly onChange?: ((next: Config, diff: ConfigDiff, previous: Config) => void) | undefined;
  /** The file changed but cannot be used (unreadable, not YAML, invalid): the running config stays. */
  readonly onError?: ((error: ConfigError) => void) | undefined;
  /** Quiet time after the last file event before re-reading. Default 200 ms. */
  readonly debounceMs?: number | undefined;
  /** The running config when the caller has loaded it already; otherwise the file is loaded now. */
  readonly initial?: Config | undefined;
}

export interface ConfigWatcher {
  /** The config in force (the last valid file). */
  readonly current: Config;
  /** The current config, then every valid change; completes on close(). */
  readonly config$: Observable<Config>;
  /** Stop watching (idempotent). No callback runs after it returns. */
  close(): void;
}

/**
 * Watch a config file. Throws ConfigError when the file cannot be loaded at the start (there is
 * nothing to run on). Callbacks run on the event loop; an exception thrown by one propagates.
 */
export function watchConfig(path: string, opts: WatchConfigOptions = {}): ConfigWatcher {
  const file = resolve(path);
  const dir = dirname(file);
  const name = basename(file);
  const debounceMs = opts.debounceMs ?? 200;

  let lastText: string | undefined;
  let current: Config;
  if (opts.initial) current = opts.initial;
  else {
    lastText = readConfigText(file);
    current = parseConfigText(lastText, path, { baseDir: dir });
  }
  const subject = new BehaviorSubject<Config>(current);
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const reload = (): void => {
    timer = undefined;
    if (closed) return;
    let text: string;
    let next: Config;
    try {
      text = readConfigText(file);
      // The same bytes as last time (a touch, an event for another file, an invalid file saved twice).
      if (text === lastText) return;
      lastText = text;
      next = parseConfigText(text, path, { baseDir: dir });
    } catch (e) {
      if (!isConfigError(e)) throw e;
      if (e.code === 'CONFIG_NOT_FOUND' || e.code === 'CONFIG_UNREADABLE') lastText = undefined;
      opts.onError?.(e);
      return;
    }
    const diff = diffConfig(current, next);
    if (!diff.changed) return;
    const previous = current;
    current = next;
    subject.next(next);
    opts.onChange?.(next, diff, previous);
  };

  const watcher: FSWatcher = watch(dir, (_event, filename) => {
    if (closed) return;
    // Our file, an unnamed event, or a Kubernetes ConfigMap `..data` symlink swap.
    if (filename !== null && filename !== name && !filename.startsWith('..')) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(reload, debounceMs);
  });
  watcher.on('error', (e) => {
    if (closed) return;
    opts.onError?.(new ConfigError('CONFIG_UNREADABLE', path, [{ path: [], message: `cannot watch the folder (${(e as NodeJS.ErrnoException).code ?? e.message})`, hint: 'check the folder still exists and is readable; restart to watch again' }], { cause: e }));
  });

  return {
    get current() {
      return current;
    },
    config$: subject.asObservable(),
    close() {
      if (closed) return;
      closed = true;
      if (timer) clearTimeout(timer);
      watcher.close();
      subject.complete();
    },
  };
}
