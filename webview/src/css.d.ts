// esbuild's `text` loader: a CSS import is the file's text (adopted as a constructable stylesheet, which the CSP allows).
declare module '*.css' {
  const text: string;
  export default text;
}
