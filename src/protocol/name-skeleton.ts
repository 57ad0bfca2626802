/**
 * Names that could pass for one another. Names are free text (two people may both be "Ana"),
 * and look-alikes from other scripts ("Аlice" with a Cyrillic А) or with invisible differences
 * cannot all be refused, so where two senders' names look alike, the clients show each with
 * its account number ("Alice #12", "Аlice #31"). The skeleton is a small, conservative form of
 * Unicode TR39's: compatibility-decomposed, accents and case dropped, white space folded, and
 * the Cyrillic and Greek letters that look like Latin ones mapped to them.
 */
const CONFUSABLES: Record<string, string> = {
  // Cyrillic
  а: 'a', в: 'b', е: 'e', ё: 'e', к: 'k', м: 'm', н: 'h', о: 'o', р: 'p', с: 'c', т: 't', у: 'y', х: 'x',
  ѕ: 's', і: 'l', ї: 'l', ј: 'j', һ: 'h', ԁ: 'd', ԛ: 'q', ԝ: 'w', ɡ: 'g',
  // Greek
  α: 'a', β: 'b', ε: 'e', η: 'n', ι: 'l', κ: 'k', ν: 'v', ο: 'o', ρ: 'p', τ: 't', υ: 'u', χ: 'x', ω: 'w',
  // Digits and Latin that look alike
  '0': 'o', '1': 'l', i: 'l', '|': 'l', '5': 's',
};

export function nameSkeleton(name: string): string {
  const folded = name.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase().replace(/\s+/gu, ' ').trim();
  let skeleton = '';
  for (const char of folded) skeleton += CONFUSABLES[char] ?? char;
  // "rn" reads as "m" in many fonts.
  return skeleton.replaceAll('rn', 'm');
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
