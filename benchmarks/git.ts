/** The commit a benchmark measured, for its results file. */
import { spawnSync } from 'node:child_process';

/** The checked-out commit, with " + uncommitted changes in lib/" when lib/ differs from it; "unknown" outside a git checkout. */
export function gitCommit(): string {
  const head = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' });
  if (head.status !== 0) return 'unknown';
  const dirty = spawnSync('git', ['status', '--porcelain', '--', 'lib'], { encoding: 'utf8' });
  return `${head.stdout.trim()}${dirty.stdout.trim() === '' ? '' : ' + uncommitted changes in lib/'}`;
}
