import mongoose, { Schema, type InferSchemaType } from 'mongoose';

/** What ops do that the audit records (docs/ops-audit.md). */
export const AUDIT_ACTIONS = [
  'yield.publish',
  'yield.import',
  'yield.confirm',
  'fund.start',
  'reserve.adjust',
  'holiday.set',
  'merchant.create',
  'holder.lookup',
  'sandbox.clock',
  'role.grant',
  'role.revoke',
  'opsToken.issue',
  'accrual.run',
  'webhook.create',
  'webhook.pause',
  'webhook.resume',
  'webhook.delete',
  'webhook.replay',
  'flows.import',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export const AUDIT_OUTCOMES = ['done', 'refused', 'failed'] as const;
export type AuditOutcomeKind = (typeof AUDIT_OUTCOMES)[number];

/**
 * An ops action, written before it runs: who (a user id, or `os:<name>` for the CLI run by
 * someone with the database and no ops login), through what, on what, with what request.
 * Appended, never updated: its outcome is a document of its own (audit_outcomes, same _id).
 */
const auditEntrySchema = new Schema(
  {
    /** Sortable: newest first by _id. */
    _id: { type: String, required: true },
    at: { type: Date, required: true },
    actorId: { type: String, required: true },
    actorLogin: { type: String, default: null },
    via: { type: String, enum: ['api', 'cli'], required: true },
    action: { type: String, enum: AUDIT_ACTIONS, required: true },
    /** What it acted on, e.g. "YEB001 2024-06-03", a login id, a date. */
    target: { type: String, required: true },
    request: { type: Schema.Types.Mixed, default: {} },
  },
  { versionKey: false, strict: 'throw', minimize: false },
);
auditEntrySchema.index({ actorId: 1 });
auditEntrySchema.index({ action: 1 });

/** How an audited action ended; missing when the process stopped between the action and this. */
const auditOutcomeSchema = new Schema(
  {
    /** The entry's _id: one outcome per entry. */
    _id: { type: String, required: true },
    at: { type: Date, required: true },
    outcome: { type: String, enum: AUDIT_OUTCOMES, required: true },
    /** A refusal's or failure's problem code and detail. */
    code: { type: String, default: null },
    detail: { type: String, default: null },
    result: { type: Schema.Types.Mixed, default: {} },
  },
  { versionKey: false, strict: 'throw', minimize: false },
);

export type AuditEntryDocument = InferSchemaType<typeof auditEntrySchema> & { _id: string; request: Record<string, unknown> };
export type AuditOutcomeDocument = InferSchemaType<typeof auditOutcomeSchema> & { _id: string; result: Record<string, unknown> };
export const AuditEntry = mongoose.model('AuditEntry', auditEntrySchema, 'audit_entries');
export const AuditOutcome = mongoose.model('AuditOutcome', auditOutcomeSchema, 'audit_outcomes');
