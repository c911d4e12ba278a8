import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { promises as dns } from "node:dns";
import type { LookupFunction } from "node:net";

import ipaddr from "ipaddr.js";

import { invalidInput } from "../errors.js";

/**
 * Whether a receiver may live at `address`: only ordinary public unicast addresses. Private
 * (10/8, 172.16/12, 192.168/16, fc00::/7), loopback, link-local (169.254/16 with the cloud
 * metadata service, fe80::/10), carrier-grade NAT, multicast, reserved and unspecified are
 * refused, and so are the IPv6 forms that tunnel or translate to IPv4 (6to4, Teredo, NAT64),
 * which could hide one of those. An IPv4-mapped IPv6 address is judged as its IPv4 address.
 */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  let parsed = ipaddr.parse(address);
  if (parsed.kind() === "ipv6") {
    const v6 = parsed as ipaddr.IPv6;
    if (v6.isIPv4MappedAddress()) parsed = v6.toIPv4Address();
  }
  return parsed.range() === "unicast";
}

/** The host of a URL as an address or a name (`[::1]` loses its brackets). */
function hostOf(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, "$1");
}

/**
 * At subscription time: the URL's host must resolve, and every address it resolves to must
 * be public (unless private receivers are allowed). The delivery checks again, on the very
 * addresses it connects to (`guardedLookup`): a name may resolve elsewhere later.
 */
export async function assertDeliverableUrl(value: string, allowPrivate: boolean): Promise<void> {
  const url = new URL(value);
  const host = hostOf(url);
  let addresses: string[];
  if (ipaddr.isValid(host)) addresses = [host];
  else {
    try {
      addresses = (await dns.lookup(host, { all: true, verbatim: true })).map((entry) => entry.address);
    } catch {
      throw invalidInput(`webhook URL host ${host} does not resolve to an address`, { field: "url" });
    }
  }
  if (allowPrivate) return;
  const refused = addresses.filter((address) => !isPublicAddress(address));
  if (refused.length > 0) {
    throw invalidInput(
      `webhook URL host ${host} resolves to a private, loopback, link-local or reserved address ` +
        `(${refused.join(", ")}): receivers must be on public addresses`,
      { field: "url", addresses: refused },
    );
  }
}

/** Thrown by `guardedLookup` (and by a delivery to a literal address) for an address that is not allowed. */
export class BlockedAddressError extends Error {
  override readonly name = "BlockedAddressError";
}

/** Whether a URL's host is an IP literal that is not allowed (names go through `guardedLookup`). */
export function blockedLiteral(url: URL, allowPrivate: boolean): string | null {
  const host = hostOf(url);
  if (allowPrivate || !ipaddr.isValid(host)) return null;
  return isPublicAddress(host) ? null : host;
}

/**
 * A `lookup` for `http.request` that resolves the name and refuses the connection when any
 * address it got is not public: the socket connects to exactly the addresses checked here,
 * so a name that re-resolves to an internal address (DNS rebinding) between the
 * subscription's check and the delivery is caught at delivery.
 */
export function guardedLookup(allowPrivate: boolean): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error, "", 0);
      const refused = allowPrivate ? [] : addresses.filter((entry) => !isPublicAddress(entry.address));
      if (refused.length > 0) {
        return callback(
          new BlockedAddressError(
            `${hostname} resolves to a non-public address (${refused.map((entry) => entry.address).join(", ")}): not delivered`,
          ),
          "",
          0,
        );
      }
      if (options.all) return callback(null, addresses);
      const first = addresses[0];
      if (!first) return callback(new Error(`${hostname} resolved to no address`), "", 0);
      callback(null, first.address, first.family);
    });
  };
}
