export { default } from "@logbook/eslint-config";
