/**
 * Asks the upstream to end a chat stream with its usage (`stream_options.include_usage`), which OpenAI-compatible
 * servers only send when asked. Returns whether the client had asked for it itself: if not, the usage chunk is the
 * gateway's and is left out of what the client gets. Other stream options the client set are kept.
 */
export function askForStreamUsage(body: Record<string, unknown>): { clientAsked: boolean } {
  const options = body.stream_options;
  const own = options !== null && typeof options === 'object' && !Array.isArray(options) ? options : {};
  if ((own as { include_usage?: unknown }).include_usage === true) return { clientAsked: true };
  body.stream_options = { ...own, include_usage: true };
  return { clientAsked: false };
}
