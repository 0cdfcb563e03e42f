/**
 * What the Cameras page and the gate editor share: the config file's entries with their version
 * (the If-Match of every save), a refused save shown in the page, and removing an entry.
 */
import { useRef, useState } from 'preact/hooks';
import type { Api } from './api.ts';
import { issueText, loadEntries, removeEntry, type Entry, type SaveOutcome } from './config-api.ts';
import { Dialog, errorText, useLoad } from './ui.tsx';

/** The file's cameras and gates, its version as last read, and a reload that resolves to the version now. */
export function useConfigEntries(api: Api) {
  const entries = useLoad(() => loadEntries(api), [api]);
  const version = useRef<string | undefined>(undefined);
  if (entries.data) version.current = entries.data.version;
  const reload = async (): Promise<string> => {
    const e = await loadEntries(api);
    version.current = e.version;
    entries.reload();
    return e.version;
  };
  return { entries, version, reload };
}

/** The outcome of a refused save, in the page: every problem with its fix, or the conflict with a retry. */
export function SaveProblem({ outcome, onRetry }: { outcome: SaveOutcome | undefined; onRetry: () => void }) {
  if (!outcome || outcome.kind === 'saved') return null;
  if (outcome.kind === 'conflict')
    return (
      <div class="error" role="alert" data-outcome="conflict">
        <span>
          The config file changed since this page read it{outcome.current ? ` (now version ${outcome.current})` : ''}: someone else edited it. Nothing was saved.
        </span>
        <button type="button" onClick={onRetry}>
          Reload and retry
        </button>
      </div>
    );
  return (
    <div class="error problems" role="alert" data-outcome="invalid">
      <div>
        <p>Not saved: {outcome.error}</p>
        <ul>
          {outcome.issues.map((i) => (
            <li key={i.path + i.message}>{issueText(i)}</li>
          ))}
        </ul>
      </div>
    </div>
  );
}

/** "Remove camera X?": removes it from the file at `version`; a conflict offers reload and retry. */
export function RemoveEntryDialog(p: {
  api: Api;
  section: 'cameras' | 'gates';
  entry: Entry;
  /** 'camera' or 'gate', for the title and the button. */
  noun: string;
  /** What removing it does, in one sentence. */
  consequence: string;
  version: string;
  reload: () => Promise<string>;
  onRemoved: (version: string) => void;
  onClose: () => void;
}) {
  const [outcome, setOutcome] = useState<SaveOutcome | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const remove = async (at: string) => {
    setError(undefined);
    try {
      const r = await removeEntry(p.api, p.section, p.entry.id, at);
      setOutcome(r);
      if (r.kind === 'saved') p.onRemoved(r.version);
    } catch (err) {
      setError(err);
    }
  };
  return (
    <Dialog title={`Remove ${p.noun} ${p.entry.id}`} onClose={p.onClose}>
      <p>
        Remove {p.entry.id} from the config file? {p.consequence}
      </p>
      <SaveProblem
        outcome={outcome}
        onRetry={async () => {
          try {
            await remove(await p.reload());
          } catch (err) {
            setError(err);
          }
        }}
      />
      {error !== undefined && <p class="error">{errorText(error)}</p>}
      <div class="actions">
        <button type="button" class="danger" onClick={() => remove(p.version)}>
          Remove {p.noun}
        </button>
      </div>
    </Dialog>
  );
}
