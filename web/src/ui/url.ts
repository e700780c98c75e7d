import { useLocation, useSearch } from 'wouter-preact';

// Page state that belongs in a shareable URL: filters live in the query string.
export function useSearchParams(): [URLSearchParams, (changes: Record<string, string | null>) => void] {
  const search = useSearch();
  const [location, navigate] = useLocation();
  const params = new URLSearchParams(search);
  const set = (changes: Record<string, string | null>) => {
    const next = new URLSearchParams(search);
    for (const [k, v] of Object.entries(changes)) {
      if (v === null || v === '') next.delete(k);
      else next.set(k, v);
    }
    const s = next.toString();
    navigate(s ? `${location}?${s}` : location, { replace: true });
  };
  return [params, set];
}
