-- CreateTable
CREATE TABLE "Freeze" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "frozen" BOOLEAN NOT NULL DEFAULT false,
    "reason" TEXT,
    "until" DATETIME,
    "frozenBy" TEXT,
    "frozenAt" DATETIME,
    "updatedAt" DATETIME NOT NULL
);


-- The one row every promotion reads (src/repositories/freeze-repo.ts): it always exists.
INSERT INTO "Freeze" ("id", "frozen", "updatedAt") VALUES ('fleet', false, strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'));
