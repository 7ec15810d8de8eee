export declare const MODULES: Record<string, { file: string; exports: string[] }>;
