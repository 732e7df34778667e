/**
 * What the model is asked, per job kind: text generation (5050) gets the inputs as they are;
 * summarization (5001) and translation (5002) wrap them in an instruction built from the job's
 * `length` and `language` params (already checked by jobRequest.ts). One place, so the wording of
 * every kind can be read and changed together.
 */
import type { JobParams } from "./jobRequest"

/** Job kinds served: text generation, summarization, translation (results are kind + 1000). */
export const TEXT_GENERATION_KIND = 5050
export const SUMMARIZATION_KIND = 5001
export const TRANSLATION_KIND = 5002
export const JOB_KINDS = [TEXT_GENERATION_KIND, SUMMARIZATION_KIND, TRANSLATION_KIND] as const

const languageNames = new Intl.DisplayNames(["en"], { type: "language", fallback: "none" })

/** The English name of an ISO 639-1 code ("es" → "Spanish"), or undefined when it is not one. */
export const languageName = (code: string): string | undefined =>
  /^[a-z]{2}$/.test(code) ? languageNames.of(code) : undefined

/** A translation job that names no language is translated into this one. */
export const DEFAULT_LANGUAGE = "en"

export const promptFor = (kind: number, text: string, params: JobParams): string => {
  if (kind === SUMMARIZATION_KIND) {
    const length = params.length ? ` in ${params.length.trim().toLowerCase()}` : ""
    return `Summarize the following text${length}. Reply with the summary only, in the language of the text.\n\n${text}`
  }
  if (kind === TRANSLATION_KIND) {
    const code = params.language ?? DEFAULT_LANGUAGE
    const name = languageName(code) ?? code
    return `Translate the following text into ${name}. Reply with the translation only.\n\n${text}`
  }
  return text
}
