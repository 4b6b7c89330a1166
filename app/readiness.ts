export interface ReadinessInputs {
  /** Why no catalog is loaded, or undefined when one is. */
  artifactProblem(): string | undefined;
  schemaCompatible(): boolean;
  schemaReason(): string;
  draining(): boolean;
}

export interface Readiness {
  ready: boolean;
  reasons: string[];
}

/** Ready only with an artifact loaded, the schema compatible and no drain under way. */
export function evaluateReadiness(inputs: ReadinessInputs): Readiness {
  const reasons: string[] = [];
  if (inputs.draining()) reasons.push('shutting down: draining in-flight requests');
  const artifact = inputs.artifactProblem();
  if (artifact) reasons.push(artifact);
  if (!inputs.schemaCompatible()) reasons.push(inputs.schemaReason());
  return { ready: reasons.length === 0, reasons };
}
