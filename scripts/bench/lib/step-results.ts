// What each step of the benchmark returns, and what a run collected: the figures of the steps that ran to their
// end, the error of those that failed.
import type { E2eLatencyFigures } from '../steps/e2e-latency';
import type { FailoverFigures } from '../steps/failover';
import type { HotAggregatesFigures } from '../steps/hot-aggregates';
import type { HttpOrdersFigures } from '../steps/http-orders';
import type { RawPublishFigures } from '../steps/raw-publish';
import type { RawTxFigures } from '../steps/raw-transactions';
import type { RelayDrainFigures } from '../steps/relay-drain';
import type { ScaleOutFigures } from '../steps/scale-out';
import type { BenchContext } from './context';
import type { StepName } from './options';

export interface StepFigures {
  tx: RawTxFigures;
  publish: RawPublishFigures;
  http: HttpOrdersFigures;
  drain: RelayDrainFigures;
  hot: HotAggregatesFigures;
  e2e: E2eLatencyFigures;
  failover: FailoverFigures;
  scale: ScaleOutFigures;
}

export type Steps = { [K in StepName]: (ctx: BenchContext) => Promise<StepFigures[K]> };

export interface StepResults {
  figures: { [K in StepName]?: StepFigures[K] };
  errors: { [K in StepName]?: string };
}
