/** Live: one tile per camera with its latest frame (1-2 fps), face boxes from the events, health and fps. */
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, type FgEvent } from '../api.ts';
import { Empty, ErrorBox, Loading, errorText, useLoad, useSession } from '../ui.tsx';

export interface CameraView {
  readonly id: string;
  readonly name: string;
  readonly running: boolean;
  readonly status: string;
  readonly ingest?: { delivered: number; lost: number };
  readonly detect?: { processed: number; dropped: number };
  readonly recognize?: { dropped: number };
}

interface Rates {
  fpsIn: number;
  fpsProcessed: number;
  droppedPerS: number;
}

/** Per-camera rates from two samples of the cumulative counters. */
export function useRates(cameras: readonly CameraView[] | undefined): ReadonlyMap<string, Rates> {
  const prev = useRef(new Map<string, { at: number; in: number; processed: number; dropped: number }>());
  const [rates, setRates] = useState<ReadonlyMap<string, Rates>>(new Map());
  useEffect(() => {
    if (!cameras) return;
    const now = performance.now();
    const next = new Map<string, Rates>();
    for (const c of cameras) {
      const cur = { at: now, in: (c.detect?.processed ?? 0) + (c.detect?.dropped ?? 0), processed: c.detect?.processed ?? 0, dropped: (c.detect?.dropped ?? 0) + (c.ingest?.lost ?? 0) };
      const p = prev.current.get(c.id);
      if (p && now > p.at) {
        const s = (now - p.at) / 1000;
        next.set(c.id, { fpsIn: Math.max(0, cur.in - p.in) / s, fpsProcessed: Math.max(0, cur.processed - p.processed) / s, droppedPerS: Math.max(0, cur.dropped - p.dropped) / s });
      }
      prev.current.set(c.id, cur);
    }
    if (next.size) setRates(next);
  }, [cameras]);
  return rates;
}

export function healthOf(status: string): { label: string; cls: string } {
  if (status === 'camera.up') return { label: 'up', cls: 'ok' };
  if (status === 'camera.stalled') return { label: 'stalled', cls: 'warn' };
  if (status === 'camera.down') return { label: 'down', cls: 'bad' };
  return { label: status.replace('camera.', ''), cls: 'warn' };
}

const kindOf = (face: FgEvent | undefined): string => (face?.type === 'face.recognized' ? 'known' : face ? 'unknown' : 'pending');

/** `#door:1 Angelina [mask] 0.65`: track id, name or unknown id, mask flag, score. */
function labelOf(trackId: string, f: FgEvent | undefined): string {
  const name = !f ? 'recognising…' : typeof f.data.name === 'string' ? f.data.name : String(f.data.unknownId ?? 'unknown');
  const score = f && typeof f.data.score === 'number' ? ` ${f.data.score.toFixed(2)}` : '';
  return `#${trackId} ${name}${f?.data.masked === true ? ' [mask]' : ''}${score}`;
}

interface Frame {
  url: string;
  seq: number;
  capturedAt: number;
  srcW: number;
  srcH: number;
}

function Tile({ camera, rates }: { camera: CameraView; rates: Rates | undefined }) {
  const { api, events } = useSession();
  const [frame, setFrame] = useState<Frame | undefined>(undefined);
  const [problem, setProblem] = useState<string | undefined>(undefined);
  useEffect(() => {
    let alive = true;
    let timer: number | undefined;
    let current: string | undefined;
    const next = async () => {
      if (!alive) return;
      if (document.visibilityState === 'visible') {
        try {
          const r = await api.blobUrl(`/v1/cameras/${encodeURIComponent(camera.id)}/frame`);
          if (!alive) {
            URL.revokeObjectURL(r.url);
            return;
          }
          const [w, h] = (r.headers.get('x-frame-source-size') ?? '0x0').split('x').map(Number);
          if (current) URL.revokeObjectURL(current);
          current = r.url;
          setFrame({ url: r.url, seq: Number(r.headers.get('x-frame-seq')), capturedAt: Number(r.headers.get('x-frame-captured-at')), srcW: w, srcH: h });
          setProblem(undefined);
        } catch (e) {
          if (!alive) return;
          setProblem(e instanceof ApiError && e.status === 503 ? e.message : errorText(e));
        }
      }
      // ~2 fps: the server encodes at most twice a second anyway.
      timer = window.setTimeout(() => void next(), 500);
    };
    void next();
    return () => {
      alive = false;
      if (timer !== undefined) window.clearTimeout(timer);
      if (current) URL.revokeObjectURL(current);
    };
  }, [camera.id]);

  // Tracks of this camera alive at the frame, from the events: the last box any event gave
  // (track.started, face.*), the name / unknown id / score / mask flag of its face event. A box
  // Boxes are drawn only when their event is within a second of the frame (the events give a box
  // per track start and face decision, not per frame); every live track is listed over the tile.
  const tracks = new Map<string, { box: number[]; boxAt: number; face?: FgEvent }>();
  if (frame) {
    const ended = new Set<string>();
    for (const e of events) {
      if (e.cameraId !== camera.id || !e.trackId) continue;
      if (e.timeMs < frame.capturedAt - 6000) break;
      if (e.timeMs > frame.capturedAt + 500) continue;
      if (e.type === 'track.ended') ended.add(e.trackId);
      if (ended.has(e.trackId)) continue;
      const t = tracks.get(e.trackId);
      const isFace = e.type === 'face.recognized' || e.type === 'face.unknown';
      if (!t) {
        if (Array.isArray(e.data.box)) tracks.set(e.trackId, { box: e.data.box as number[], boxAt: e.timeMs, ...(isFace ? { face: e } : {}) });
      } else if (isFace && !t.face) t.face = e;
    }
    for (const [id, t] of tracks) if (frame.capturedAt - t.boxAt > 4000) tracks.delete(id);
  }
  const h = healthOf(camera.status);
  return (
    <figure class="tile" aria-label={`camera ${camera.name}`}>
      <div class="frame">
        {frame ? (
          <>
            <img src={frame.url} alt={`latest frame of ${camera.name}`} data-seq={frame.seq} />
            {frame.srcW > 0 && (
              <svg viewBox={`0 0 ${frame.srcW} ${frame.srcH}`} preserveAspectRatio="none" aria-hidden="true">
                {[...tracks.entries()]
                  .filter(([, t]) => frame.capturedAt - t.boxAt <= 1000)
                  .map(([trackId, t]) => {
                    const [x1, y1, x2, y2] = t.box;
                    return (
                      <g key={trackId} class={`box ${kindOf(t.face)}`}>
                        <rect x={x1} y={y1} width={x2 - x1} height={y2 - y1} />
                        <text x={x1} y={Math.max(28, y1 - 10)}>
                          {labelOf(trackId, t.face)}
                        </text>
                      </g>
                    );
                  })}
              </svg>
            )}
          </>
        ) : (
          <div class="noframe">{problem ?? 'waiting for the first frame…'}</div>
        )}
        {tracks.size > 0 && (
          <ul class="tracks" aria-label="people in view">
            {[...tracks.entries()].map(([trackId, t]) => (
              <li key={trackId} class={kindOf(t.face)}>
                {labelOf(trackId, t.face)}
              </li>
            ))}
          </ul>
        )}
        {frame && problem && <div class="stale">{problem}</div>}
      </div>
      <figcaption>
        <strong>{camera.name}</strong> <span class={`pill ${h.cls}`}>{h.label}</span>
        <span class="fps">
          {rates ? `in ${rates.fpsIn.toFixed(1)} fps · processed ${rates.fpsProcessed.toFixed(1)} fps · dropped ${rates.droppedPerS.toFixed(1)}/s` : 'measuring fps…'}
        </span>
      </figcaption>
    </figure>
  );
}

export function LivePage() {
  const { api } = useSession();
  const cams = useLoad(() => api.json<{ cameras: CameraView[] }>('/v1/cameras').then((r) => r.cameras), [], 2000);
  const rates = useRates(cams.data);
  return (
    <section aria-labelledby="live-title">
      <h1 id="live-title">Live</h1>
      {cams.error !== undefined && <ErrorBox error={cams.error} onRetry={cams.reload} />}
      {cams.loading && !cams.data && <Loading what="cameras" />}
      {cams.data && cams.data.length === 0 && <Empty>No cameras are configured. Add one under `cameras:` in the config.</Empty>}
      <div class="tiles">
        {cams.data?.map((c) => (
          <Tile key={c.id} camera={c} rates={rates.get(c.id)} />
        ))}
      </div>
    </section>
  );
}
