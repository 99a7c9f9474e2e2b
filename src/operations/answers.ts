import type { OperationDocument } from './model.ts';

/**
 * A money request's answer as the HTTP edge renders it from the operation. The first final one
 * is stored with the operation, so a replay repeats it byte for byte (a problem's title and
 * detail read in the replay's language: src/http/idempotency.ts); the engine and the
 * domains only pass it on, and never read its status.
 */
export interface RenderedAnswer {
  status: number;
  body: unknown;
}

type AnswerRenderer = (operation: OperationDocument) => RenderedAnswer;

let renderer: AnswerRenderer | undefined;

/** Each composition root (the app, the scheduler, the ops CLI) registers the edge's renderer, src/http/answers.ts. */
export function registerAnswerRenderer(render: AnswerRenderer): void {
  renderer = render;
}

export function renderAnswer(operation: OperationDocument): RenderedAnswer {
  if (!renderer) throw new Error('No answer renderer registered: a composition root registers answerFor of src/http/answers.ts');
  return renderer(operation);
}
