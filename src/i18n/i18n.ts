/**
 * The service's languages and their message catalogues (./locales/<language>.json, one file per
 * language whose top-level keys are i18next namespaces). One i18next instance serves every
 * request: a request reads through a translator fixed to its language (getFixedT), so no
 * language is ever global state shared between requests.
 */
import i18next, { type TFunction } from 'i18next';
import { z } from 'zod';
import { parseScaled } from '../money/rounding.ts';
import { groupedYuan } from './formatAmount.ts';
import en from './locales/en.json' with { type: 'json' };
import zhCN from './locales/zh-CN.json' with { type: 'json' };

/** English first: what a caller who states no preference gets (docs/i18n.md says why). */
export const LANGUAGES = ['en', 'zh-CN'] as const;
export type Language = (typeof LANGUAGES)[number];

/** zod's own messages (a wrong type, a string too short, an unknown key) in each language. */
export const ZOD_LOCALES: Record<Language, () => { localeError: z.core.$ZodErrorMap }> = { en: z.locales.en, 'zh-CN': z.locales.zhCN };

const i18n = i18next.createInstance();
void i18n.init({
  resources: { en, 'zh-CN': zhCN },
  supportedLngs: LANGUAGES,
  fallbackLng: false, // a missing message falls back to the English the code wrote, never to another catalogue's
  ns: ['problem', 'validation'],
  defaultNS: 'problem',
  initAsync: false, // the catalogues are in memory: ready when this module is
  returnNull: false,
  interpolation: { escapeValue: false }, // JSON and text, never HTML
});
// `{{amount, yuan}}`: a yuan string of the answer ("10000.00") read as people write it
// ("10,000.00"). Anything else is left as it is: rendering a problem must never throw.
const YUAN = /^-?\d+\.\d{2}$/;
i18n.services.formatter?.add('yuan', (value: unknown) => (typeof value === 'string' && YUAN.test(value) ? groupedYuan(parseScaled(value, 2)) : String(value)));

export const translatorFor = (language: Language, namespace: 'problem' | 'validation' = 'problem'): TFunction => i18n.getFixedT(language, namespace);

/** Whether the catalogue of `language` holds `key` (test/unit/i18n.test.ts: no code ships untranslated). */
export const hasMessage = (language: Language, key: string, namespace: 'problem' | 'validation' = 'problem'): boolean =>
  i18n.exists(key, { lng: language, ns: namespace });
