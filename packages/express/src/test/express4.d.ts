// `express4` is an npm alias of express 4 (a devDependency for the tests); it has the same shape for our use.
declare module 'express4' {
  import express from 'express';
  export default express;
}
