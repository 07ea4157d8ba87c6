// Amounts of ether shown one way, as pinpoint/units.py shows them: exact decimals, never floats, never bare wei.

const WEI_PER_ETH = 10n ** 18n;

/** "1.5 ETH" for 1.5e18 wei (a decimal string, number or BigInt), exactly; "-" for null; "+"/"-" with `sign`. */
export function formatEth(wei, sign = false) {
  if (wei === null || wei === undefined) return "-";
  const value = BigInt(wei);
  const magnitude = value < 0n ? -value : value;
  const whole = magnitude / WEI_PER_ETH, fraction = magnitude % WEI_PER_ETH;
  const digits = `${whole}` + (fraction ? `.${fraction.toString().padStart(18, "0")}`.replace(/0+$/, "") : "");
  const prefix = value < 0n ? "-" : sign ? "+" : "";
  return `${prefix}${digits} ETH`;
}
