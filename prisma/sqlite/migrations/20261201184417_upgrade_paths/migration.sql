-- AlterTable
ALTER TABLE "Instance" ADD COLUMN "previousReleaseId" TEXT;
ALTER TABLE "Instance" ADD COLUMN "previousReleaseVersion" TEXT;
ALTER TABLE "Instance" ADD COLUMN "releaseSince" DATETIME;

-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_Release" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "version" TEXT NOT NULL,
    "chart" JSONB NOT NULL,
    "images" JSONB NOT NULL,
    "values" JSONB NOT NULL,
    "notes" TEXT NOT NULL DEFAULT '',
    "createdBy" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "yankedAt" DATETIME,
    "yankedBy" TEXT,
    "yankReason" TEXT,
    "required" BOOLEAN NOT NULL DEFAULT false,
    "requiredReason" TEXT,
    "requiredBy" TEXT,
    "requiredAt" DATETIME,
    "upgradeFrom" TEXT
);
INSERT INTO "new_Release" ("chart", "createdAt", "createdBy", "id", "images", "notes", "values", "version", "yankReason", "yankedAt", "yankedBy") SELECT "chart", "createdAt", "createdBy", "id", "images", "notes", "values", "version", "yankReason", "yankedAt", "yankedBy" FROM "Release";
DROP TABLE "Release";
ALTER TABLE "new_Release" RENAME TO "Release";
CREATE UNIQUE INDEX "Release_version_key" ON "Release"("version");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;

