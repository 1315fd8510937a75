-- CreateTable
CREATE TABLE "Freeze" (
    "id" TEXT NOT NULL,
    "frozen" BOOLEAN NOT NULL DEFAULT false,
    "reason" TEXT,
    "until" TIMESTAMP(3),
    "frozenBy" TEXT,
    "frozenAt" TIMESTAMP(3),
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Freeze_pkey" PRIMARY KEY ("id")
);


-- The one row every promotion reads (src/repositories/freeze-repo.ts): it always exists.
INSERT INTO "Freeze" ("id", "frozen", "updatedAt") VALUES ('fleet', false, CURRENT_TIMESTAMP);
