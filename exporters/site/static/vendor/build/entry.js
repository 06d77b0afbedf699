// The part of age-encryption the premium unlock script uses, exposed as window.ageEncryption.
export { Decrypter } from "age-encryption";
