/** Small wording helpers shared by every user-facing message. */

/** "1 patient", "2 patients", "0 patients"; `pluralForm` for irregular words ("entry" / "entries", "series"). */
export function plural(n: number, singular: string, pluralForm = `${singular}s`): string {
  return `${n} ${n === 1 ? singular : pluralForm}`;
}
