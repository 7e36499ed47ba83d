// One step of `npm run bench:ha`: a file of its own exporting a HaStep, in the list of ha.ts. A step runs on the
// run's context, leaves its figures in the run's results (a later step, or the report, sets them against a raw
// limit of the same run) and says which rows of the report they make. A new fault (a Postgres failover, say) is a
// new file here, a field in HaResults and an entry in ha.ts's list.
import type { Row } from '../lib/report';
import type { HaContext } from './context';
import type { HaStepName } from './options';
import type { RawPublishR3Figures } from './raw-publish-r3';
import type { RelayDrainReplicasFigures } from './relay-drain-replicas';
import type { E2eLatencyR3Figures } from './e2e-latency-r3';
import type { StreamLeaderFaultFigures } from './stream-leader-kills';

export interface HaResults {
  raw?: RawPublishR3Figures;
  drain?: RelayDrainReplicasFigures;
  latency?: E2eLatencyR3Figures;
  kill?: StreamLeaderFaultFigures;
}

export interface HaStep {
  name: HaStepName;
  /** What it measures, for the run's log. */
  title: string;
  run(ctx: HaContext, results: HaResults): Promise<void>;
  /** Its rows of the report (none when its figures are missing: it failed, or did not run). */
  rows(results: HaResults): Row[];
}
