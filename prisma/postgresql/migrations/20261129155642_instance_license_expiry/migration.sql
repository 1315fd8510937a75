-- AlterTable
ALTER TABLE "Instance" ADD COLUMN     "licenseExpiresAt" TIMESTAMP(3);

