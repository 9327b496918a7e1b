// Runs a Flamenco 3 job compiler script under Node.js with stand-ins for the Manager's documented
// compiler API (author.Task(name, type) with addCommand/addDependency, author.Command(name,
// params), job.settings, job.addTask, print), and prints what it authored as JSON:
//   node flamenco_harness.js SCRIPT.js JOB.json
// Output: {"job_type": {...}, "tasks": [{name, type, commands: [{name, params}], dependencies}]}
// or {"error": "..."} when compileJob throws.
"use strict";
const fs = require("fs");
const vm = require("vm");

const [scriptPath, jobPath] = process.argv.slice(2);
const submitted = JSON.parse(fs.readFileSync(jobPath, "utf8"));
const tasks = [];

function Task(name, type) {
    if (typeof name !== "string" || typeof type !== "string") {
        throw new Error("author.Task(name, type) takes two strings");
    }
    return {
        name, type, commands: [], dependencies: [],
        addCommand(cmd) {
            if (!cmd || cmd.__isCommand !== true) throw new Error("addCommand takes an author.Command");
            this.commands.push(cmd);
        },
        addDependency(task) {
            if (!task || !Array.isArray(task.commands)) throw new Error("addDependency takes an author.Task");
            this.dependencies.push(task);
        },
    };
}

function Command(name, params) {
    if (typeof name !== "string" || typeof params !== "object") {
        throw new Error("author.Command(name, params) takes a string and an object");
    }
    return { __isCommand: true, name, params: JSON.parse(JSON.stringify(params)) };
}

const job = {
    name: submitted.name, type: submitted.type, priority: submitted.priority,
    settings: Object.assign({}, submitted.settings), metadata: submitted.metadata || {},
    addTask(task) {
        if (tasks.includes(task)) throw new Error(`task ${task.name} added twice`);
        tasks.push(task);
    },
};

const context = vm.createContext({ author: { Task, Command }, print: () => {}, job });
vm.runInContext(fs.readFileSync(scriptPath, "utf8"), context, { filename: scriptPath });
let result;
try {
    // Like the Manager: fill in defaults of settings the submitter left out, then compile.
    const jobType = vm.runInContext("JOB_TYPE", context);
    for (const s of jobType.settings) {
        if (job.settings[s.key] === undefined && s.default !== undefined) job.settings[s.key] = s.default;
    }
    vm.runInContext("compileJob(job)", context);
    for (const t of tasks) {
        for (const d of t.dependencies) {
            if (!tasks.includes(d)) throw new Error(`${t.name} depends on ${d.name}, which was never added`);
            if (tasks.indexOf(d) > tasks.indexOf(t)) throw new Error(`${t.name} added before its dependency`);
        }
    }
    result = {
        job_type: jobType,
        tasks: tasks.map((t) => ({
            name: t.name, type: t.type,
            commands: t.commands.map((c) => ({ name: c.name, params: c.params })),
            dependencies: t.dependencies.map((d) => d.name),
        })),
    };
} catch (err) {
    result = { error: String(err && err.message !== undefined ? err.message : err) };
}
process.stdout.write(JSON.stringify(result) + "\n");
