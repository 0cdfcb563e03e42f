/** System: version, models and execution provider, event log size, per-camera and per-stage figures, recognition calibration. */
import type { Calibration, CalibrationBlock } from '../api.ts';
import { ErrorBox, formatTime, Loading, useLoad, useSession } from '../ui.tsx';
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

const rate = (v: number | null): string => (v === null ? 'n/a (fewer than 2 samples)' : `${(v * 100).toFixed(v < 0.001 ? 4 : 2)} %`);

/** Genuine and stranger score histograms side by side, one row per non-empty bin; the threshold's bin marked. */
function ScoreHistogram({ title, block, c }: { title: string; block: CalibrationBlock; c: Calibration }) {
  const { genuine, stranger } = block;
  const peak = Math.max(1, ...genuine.histogram, ...stranger.histogram);
  const thresholdBin = Math.floor((c.thresholds.unmasked - c.bins.low) / c.bins.width + 1e-9);
  const rows = genuine.histogram.map((g, i) => ({ i, g, s: stranger.histogram[i] ?? 0 })).filter((r) => r.g || r.s || r.i === thresholdBin);
  return (
    <table class="calibration-histogram" data-camera={title}>
      <caption>
        {title}: {genuine.count} recognitions, {stranger.count} strangers · estimated false accept {rate(block.estimate.falseAcceptRate)}, false reject {rate(block.estimate.falseRejectRate)} · within {c.near} of the threshold: {block.estimate.strangersNearThreshold} stranger(s), {block.estimate.genuineNearThreshold} recognition(s)
      </caption>
      <thead>
        <tr>
          <th scope="col">score</th>
          <th scope="col">strangers</th>
          <th scope="col">recognitions</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => {
          const lo = c.bins.low + r.i * c.bins.width;
          return (
            <tr key={r.i} class={r.i === thresholdBin ? 'threshold' : undefined}>
              <th scope="row">
                {lo.toFixed(2)}–{(lo + c.bins.width).toFixed(2)}
                {r.i === thresholdBin ? ` (threshold ${c.thresholds.unmasked})` : ''}
              </th>
              <td>
                <span class="bar stranger" style={{ display: 'inline-block', width: `${(r.s / peak) * 10}em`, background: '#c0392b', height: '0.8em' }} /> {r.s || ''}
              </td>
              <td>
                <span class="bar genuine" style={{ display: 'inline-block', width: `${(r.g / peak) * 10}em`, background: '#27ae60', height: '0.8em' }} /> {r.g || ''}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

/** Recognition calibration from the site's own event log (GET /v1/calibration, last 30 days). */
function CalibrationPanel() {
  const { api } = useSession();
  const cal = useLoad(() => api.json<Calibration>('/v1/calibration?days=30'), [], 60_000);
  const c = cal.data;
  return (
    <section aria-labelledby="calibration-title" class="calibration">
      <h2 id="calibration-title">Recognition calibration (last 30 days)</h2>
      {cal.error !== undefined && <ErrorBox error={cal.error} onRetry={cal.reload} />}
      {cal.loading && !c && <Loading what="calibration" />}
      {c && (
        <>
          <p class="thresholds">
            Thresholds in force: unmasked {c.thresholds.unmasked}, masked {c.thresholds.masked}
            {c.thresholds.source ? ` (${c.thresholds.source})` : ''}
          </p>
          <p>
            {c.events.genuine} recognitions and {c.events.stranger} strangers with a score{c.events.strangerWithoutScore ? ` (${c.events.strangerWithoutScore} more without: the gallery was empty)` : ''}. False reject estimates are lower bounds: a rejected face is logged as a stranger.
          </p>
          <ScoreHistogram title="all cameras" block={c.overall} c={c} />
          {c.cameras.length > 1 && c.cameras.map((cam) => <ScoreHistogram key={cam.cameraId} title={`camera ${cam.cameraId}`} block={cam} c={c} />)}
          <table class="top-strangers">
            <caption>How close did a stranger come</caption>
            <thead>
              <tr>
                <th scope="col">score</th>
                <th scope="col">below the threshold by</th>
                <th scope="col">camera</th>
                <th scope="col">masked</th>
                <th scope="col">time</th>
              </tr>
            </thead>
            <tbody>
              {c.topStrangers.length === 0 ? (
                <tr>
                  <td colSpan={5}>no stranger with a score yet</td>
                </tr>
              ) : (
                c.topStrangers.map((s, i) => (
                  <tr key={s.eventId ?? i} data-event-id={s.eventId}>
                    <td>{s.score.toFixed(3)}</td>
                    <td>
                      {s.gap.toFixed(3)} (threshold {s.threshold})
                    </td>
                    <td>{s.cameraId}</td>
                    <td>{s.masked ? 'masked' : 'no'}</td>
                    <td>{formatTime(s.timeMs)}</td>
                  </tr>
                ))
              )}
            </tbody>
          </table>
        </>
      )}
    </section>
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
      <CalibrationPanel />
    </section>
  );
}
