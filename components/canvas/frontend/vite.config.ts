import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// One ES module (default export: the Streamlit components-v2 renderer) and one CSS file, named by their
// content hash, written to ../dist (committed: the app needs no Node). CI rebuilds and compares.
export default defineConfig({
  plugins: [react()],
  define: { "process.env.NODE_ENV": JSON.stringify("production") },
  build: {
    outDir: "../dist",
    emptyOutDir: true,
    target: "es2022",
    cssCodeSplit: false,
    reportCompressedSize: false,
    rollupOptions: {
      input: "src/index.tsx",
      preserveEntrySignatures: "strict",
      output: {
        format: "es",
        entryFileNames: "canvas-[hash].js",
        assetFileNames: "canvas-[hash][extname]",
        codeSplitting: false,
      },
    },
  },
});
