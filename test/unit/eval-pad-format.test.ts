/** `facegate eval --pad` text report: the per-video lines, with the landmark planarity diagnostic. */
import t from 'tap';
import { formatPadReport } from '../../src/cli/eval-pad.ts';
import type { PadEvalReport, PadItem } from '../../src/recognize/evaluate-pad.ts';
import { padReport, type PadSample } from '../../src/recognize/pad-metrics.ts';

const video = (file: string, label: 'live' | 'spoof', attack: string, score: number | undefined, planarity?: NonNullable<PadItem['video']>['planarity']): PadItem => ({
  file,
  line: 2,
  label,
  attack,
  context: undefined,
  kind: 'video',
  score,
  accepted: score === undefined ? undefined : score >= 0.5,
  problem: undefined,
  detail: undefined,
  video: { frames: 90, tracks: 2, decidingTrack: 't3', trackFrames: 61, bestShotFrames: 12, width: 720, height: 1280, ...(planarity ? { planarity } : {}) },
});

t.test('video lines: verdict, deciding track and the planarity clause only where measured', async (t) => {
  const items = [
    video('live_turn.mp4', 'live', 'none', 0.91, { verdict: 'non-planar', residual: 0.1234, residualAll: 0.05, maxTilt: 37.6, pairs: 40, turningPairs: 9, parallaxPairs: 7 }),
    video('replay_phone.mp4', 'spoof', 'replay', 0.12, { verdict: 'no-evidence', residual: undefined, residualAll: 0.01, maxTilt: 8.2, pairs: 30, turningPairs: 0, parallaxPairs: 0 }),
    video('replay_old.mp4', 'spoof', 'replay', 0.2),
  ];
  const samples: PadSample[] = items.map((i) => ({ label: i.label ?? 'live', attack: i.attack, score: i.score ?? 0 }));
  const report: PadEvalReport = { ...padReport(samples, 0.5), dir: '/data/pad', trackScore: 'median', items, problems: {}, nonResponse: { live: 0, spoof: 0 }, kinds: undefined };
  const lines = formatPadReport(report).split('\n');
  const of = (f: string): string => lines.find((l) => l.includes(`video ${f} `)) ?? '';
  t.equal(of('live_turn.mp4'), '  video live_turn.mp4 (live): 90 frames, 2 track(s), deciding t3 over 61 frames: 0.910 accepted as live; landmarks non-planar (9/40 turning pairs, residual 0.123, max tilt 38 deg)');
  t.equal(of('replay_phone.mp4'), '  video replay_phone.mp4 (spoof replay): 90 frames, 2 track(s), deciding t3 over 61 frames: 0.120 refused; landmarks no-evidence (0/30 turning pairs, residual -, max tilt 8 deg)');
  t.equal(of('replay_old.mp4'), '  video replay_old.mp4 (spoof replay): 90 frames, 2 track(s), deciding t3 over 61 frames: 0.200 refused', 'no planarity measured: no clause');
  t.match(lines[1] ?? '', /BPCER 0\.0% \(0\/1 live refused\); APCER replay 0\.0% \(0\/2 accepted\)/);
});
