// The id of the registered check running in this worker (tests in a file run one at a
// time), so that evidence is filed under the check's stable id.
let current: string | undefined;

export const currentCheck = (): string | undefined => current;
export const setCurrentCheck = (id: string | undefined): void => {
  current = id;
};
