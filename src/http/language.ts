import type { RequestHandler, Response } from 'express';
import type { Language } from '../i18n/i18n.ts';

// What Accept-Language is matched against, the default first. Negotiator (through Express)
// honours q-values and matches a range by its prefix: zh, zh-CN, zh-Hans and zh-TW all meet `zh`.
const OFFERED = ['en', 'zh'] as const;
const LANGUAGE_OF_OFFER: Record<(typeof OFFERED)[number], Language> = { en: 'en', zh: 'zh-CN' };

/**
 * The language of this answer, negotiated once per request from Accept-Language: English unless
 * the caller prefers Chinese. The answer says which (Content-Language) and that it depends on
 * the header (Vary), so no cache hands one caller's language to another.
 */
export function answerLanguage(res: Response): Language {
  const known = res.locals.language as Language | undefined;
  if (known) return known;
  const offer = (res.req.acceptsLanguages(...OFFERED) || OFFERED[0]) as (typeof OFFERED)[number];
  const language = LANGUAGE_OF_OFFER[offer];
  res.locals.language = language;
  res.vary('Accept-Language').set('Content-Language', language);
  return language;
}

/** The JSON API answers in the negotiated language; problems anywhere negotiate it as they are sent. */
export const negotiateLanguage: RequestHandler = (_req, res, next) => {
  answerLanguage(res);
  next();
};
