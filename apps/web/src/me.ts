/** Who is signed in, for every view: the key's name and what its scopes allow. */
import { createContext, useContext } from "react";

export interface Me {
  name: string;
  scopes: string[];
  /** Pin, hide, label: the key's `ingest` scope (or `admin`). */
  canWrite: boolean;
  isAdmin: boolean;
}

export const MeContext = createContext<Me>({ name: "", scopes: [], canWrite: false, isAdmin: false });

export function useMe(): Me {
  return useContext(MeContext);
}

export function meFrom(who: { name: string; scopes: string[] }): Me {
  const isAdmin = who.scopes.includes("admin");
  return { name: who.name, scopes: who.scopes, canWrite: isAdmin || who.scopes.includes("ingest"), isAdmin };
}
