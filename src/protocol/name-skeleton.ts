import { withoutInvisible } from './invisible-text.js';

/**
 * Names that could pass for one another. Names are free text (two people may both be "Ana"),
 * and look-alikes from other scripts ("Аlice" with a Cyrillic А) or with invisible differences
 * cannot all be refused, so where two senders' names look alike, the clients show each with
 * its account number ("Alice #12", "Аlice #31"). The skeleton is a small, conservative form of
 * Unicode TR39's: compatibility-decomposed, invisible characters, accents and case dropped, white
 * space folded, and the letters of other scripts that look like Latin ones mapped to them.
 * Invisible characters are dropped although names may no longer hold them (display-names.ts):
 * names stored before that rule, and emoji with and without their selector, still match.
 */

/**
 * Look-alikes of ASCII letters, after lower-casing, from the scripts typed beside Latin. Most are
 * in TR39's confusables.txt, mapped to that letter (or to "i", which the skeleton reads as "l",
 * like "1" and "|"); others are the small letters of capitals it maps, the skeleton being
 * caseless (Cyrillic К is K there, so к is k here); a few older ones (β, ε, η, ω) are looser.
 */
const CONFUSABLES: Record<string, string> = {
  // Latin: alpha, script g, dotless i, iota, small capitals
  ɑ: 'a', ɡ: 'g', ı: 'l', ɩ: 'l', ɪ: 'l', ʏ: 'y', ᴄ: 'c', ᴏ: 'o', ᴜ: 'u', ᴠ: 'v', ᴡ: 'w', ᴢ: 'z',
  // Cyrillic
  а: 'a', в: 'b', г: 'r', е: 'e', ё: 'e', к: 'k', м: 'm', н: 'h', о: 'o', р: 'p', с: 'c', т: 't', у: 'y', х: 'x',
  ѕ: 's', і: 'l', ї: 'l', ј: 'j', һ: 'h', ԁ: 'd', ԛ: 'q', ԝ: 'w', ӏ: 'l', ү: 'y', ѵ: 'v', ѡ: 'w',
  // Greek
  α: 'a', β: 'b', γ: 'y', ε: 'e', η: 'n', ι: 'l', κ: 'k', ν: 'v', ο: 'o', ρ: 'p', τ: 't', υ: 'u', χ: 'x', ω: 'w', ϳ: 'j',
  // Armenian
  ա: 'w', գ: 'q', զ: 'q', հ: 'h', ո: 'n', ռ: 'n', ս: 'u', ց: 'g', ք: 'f', օ: 'o',
  // Digits and Latin that look alike
  '0': 'o', '1': 'l', i: 'l', '|': 'l', '5': 's',
};

/**
 * Capitals that look like a Latin capital while their small letter does not look like its
 * small one (Greek Η is H, η is not h): mapped before lower-casing (also TR39's).
 */
const CAPITAL_CONFUSABLES: Record<string, string> = { Η: 'h', Μ: 'm', Ν: 'n', Ζ: 'z', Υ: 'y', Տ: 's' };

export function nameSkeleton(name: string): string {
  const bare = withoutInvisible(name.normalize('NFKD')).replace(/\p{M}/gu, '');
  const folded = replaceEach(bare, CAPITAL_CONFUSABLES).toLowerCase().replace(/\s+/gu, ' ').trim();
  // "rn" reads as "m" in many fonts.
  return replaceEach(folded, CONFUSABLES).replaceAll('rn', 'm');
}

function replaceEach(text: string, table: Record<string, string>): string {
  let replaced = '';
  for (const char of text) replaced += table[char] ?? char;
  return replaced;
}

/**
 * The names to show for a chat's senders: a sender's name alone, or with "#id" when another
 * sender seen so far has a name that looks the same. Senders are remembered as they are seen,
 * so once a look-alike appears, every later line of both carries its number.
 */
export class SenderLabels {
  private readonly idsBySkeleton = new Map<string, Set<number>>();

  /** Labels that already know these senders: a page shown at once labels its first line like its last. */
  static knowing(senders: Iterable<{ id: number; name: string }>): SenderLabels {
    const labels = new SenderLabels();
    for (const sender of senders) labels.label(sender);
    return labels;
  }

  label(sender: { id: number; name: string }): string {
    const skeleton = nameSkeleton(sender.name);
    let ids = this.idsBySkeleton.get(skeleton);
    if (!ids) this.idsBySkeleton.set(skeleton, (ids = new Set()));
    ids.add(sender.id);
    return ids.size > 1 ? `${sender.name} #${sender.id}` : sender.name;
  }
}
