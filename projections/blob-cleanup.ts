// The hook through which a deleted project's blobs (artifact files) are removed.
// The Postgres projector calls it when it applies project.deleted, with the
// storage keys of the project's artifacts, before their rows go.
//
// There is no blob store yet (artifact uploads are being built separately):
// this lists nothing and deletes nothing. When the blob store lands, it deletes
// these keys here (idempotently: a batch applied twice calls it twice).
export type ProjectBlobCleanup = (projectId: string, storageKeys: string[]) => Promise<void>;

export const deleteProjectBlobs: ProjectBlobCleanup = async () => undefined;
