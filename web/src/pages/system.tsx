/** System: version, models and execution provider, event log size, per-camera and per-stage figures. */
import { ErrorBox, Loading, useLoad, useSession } from '../ui.tsx';
import { healthOf, useRates, type CameraView } from './live.tsx';

interface Summary {
  readonly p50Ms?: number;
  readonly p99Ms?: number;
  readonly count: number;
}
interface SystemInfo {
  readonly version: string;
  readonly uptimeMs: number;
  readonly models: Record<string, unknown>;
  readonly executionProvider: string;
  readonly eventLog: { lastId: number; count?: number };
  readonly stages: Record<string, Summary>;
  readonly modelRuns: Record<string, Summary>;
}

const ms = (v: number | undefined) => (v === undefined ? '> 2000' : `≤ ${v}`);

function Figures({ title, rows }: { title: string; rows: Record<string, Summary> }) {
  const names = Object.keys(rows).sort();
  return (
    <table>
      <caption>{title}</caption>
      <thead>
        <tr>
          <th scope="col">name</th>
          <th scope="col">runs</th>
          <th scope="col">p50 ms</th>
          <th scope="col">p99 ms</th>
        </tr>
      </thead>
      <tbody>
        {names.length === 0 ? (
          <tr>
            <td colSpan={4}>nothing measured yet</td>
          </tr>
        ) : (
          names.map((n) => (
            <tr key={n}>
              <th scope="row">{n}</th>
              <td>{rows[n].count}</td>
              <td>{rows[n].count ? ms(rows[n].p50Ms) : '–'}</td>
              <td>{rows[n].count ? ms(rows[n].p99Ms) : '–'}</td>
            </tr>
          ))
        )}
      </tbody>
    </table>
  );
}

export function SystemPage() {
  const { api } = useSession();
  const sys = useLoad(() => api.json<SystemInfo>('/v1/system'), [], 5000);
  const cams = useLoad(() => api.json<{ cameras: CameraView[] }>('/v1/cameras').then((r) => r.cameras), [], 2000);
  const rates = useRates(cams.data);
  const s = sys.data;
  const detectors = Array.isArray(s?.models.detectors) ? (s?.models.detectors as { model: string; tier: string; size: number }[]) : [];
  return (
    <section aria-labelledby="system-title">
      <h1 id="system-title">System</h1>
      {sys.error !== undefined && <ErrorBox error={sys.error} onRetry={sys.reload} />}
      {sys.loading && !s && <Loading what="system figures" />}
      {s && (
        <dl class="facts">
          <dt>Version</dt>
          <dd>facegate {s.version}</dd>
          <dt>Uptime</dt>
          <dd>{Math.round(s.uptimeMs / 60_000)} min</dd>
          <dt>Execution provider</dt>
          <dd>{s.executionProvider}</dd>
          <dt>Models</dt>
          <dd>
            detectors {detectors.map((d) => `${d.model} @ ${d.size}`).join(', ') || '–'} · embedder {String(s.models.embedder)} · mask {String(s.models.mask)}
          </dd>
          <dt>Event log</dt>
          <dd>
            {s.eventLog.count ?? '?'} events kept, last id {s.eventLog.lastId}
          </dd>
        </dl>
      )}
      <table>
        <caption>Cameras</caption>
        <thead>
          <tr>
            <th scope="col">camera</th>
            <th scope="col">health</th>
            <th scope="col">fps in</th>
            <th scope="col">fps processed</th>
            <th scope="col">dropped/s</th>
            <th scope="col">frames in</th>
            <th scope="col">processed</th>
            <th scope="col">dropped (detect)</th>
            <th scope="col">lost before JS</th>
            <th scope="col">dropped (recognize)</th>
          </tr>
        </thead>
        <tbody>
          {cams.data?.map((c) => (
            <tr key={c.id}>
              <th scope="row">{c.name}</th>
              <td>{healthOf(c.status).label}</td>
              <td>{rates.get(c.id)?.fpsIn.toFixed(1) ?? '…'}</td>
              <td>{rates.get(c.id)?.fpsProcessed.toFixed(1) ?? '…'}</td>
              <td>{rates.get(c.id)?.droppedPerS.toFixed(1) ?? '…'}</td>
              <td>{c.ingest?.delivered ?? 0}</td>
              <td>{c.detect?.processed ?? 0}</td>
              <td>{c.detect?.dropped ?? 0}</td>
              <td>{c.ingest?.lost ?? 0}</td>
              <td>{c.recognize?.dropped ?? 0}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {cams.error !== undefined && <ErrorBox error={cams.error} onRetry={cams.reload} />}
      {s && <Figures title="Stage latency" rows={s.stages} />}
      {s && <Figures title="Model run time" rows={s.modelRuns} />}
    </section>
  );
}
