-- AlterTable
ALTER TABLE "Release" ADD COLUMN     "required" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "requiredAt" TIMESTAMP(3),
ADD COLUMN     "requiredBy" TEXT,
ADD COLUMN     "requiredReason" TEXT,
ADD COLUMN     "upgradeFrom" TEXT;

-- AlterTable
ALTER TABLE "Instance" ADD COLUMN     "previousReleaseId" TEXT,
ADD COLUMN     "previousReleaseVersion" TEXT,
ADD COLUMN     "releaseSince" TIMESTAMP(3);

