/** Input from a site that is refused (counted against the site), not an error of the manager. */
export class Refused extends Error {}
