export default {
  typescript: { rewritePaths: { 'spec/': 'build/spec/' }, compile: false },
  files: ['spec/**/*.test.ts'],
  workerThreads: false,
  concurrency: 2,
  timeout: '3m',
};
