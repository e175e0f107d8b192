/** Task queue names travel in workflow inputs: the config decides them, workflows cannot read it. */
export interface Queues {
  readonly cpu: string;
  readonly gpu: string;
}
