// SPDX-License-Identifier: GPL-3.0-or-later
//
// Texture Forge Bake: a custom job type for Flamenco 3's job compiler.
//
// Copy this file into the Manager's `scripts/` folder. A job bakes the listed materials of one
// .blend: one task per material, each running
//   blender -b <blendfile> -P <bake script> -- --material M --out <out> [--maps, --size, --quality]
// (outputs only, no save), and a final task, depending on all of them, that runs the same script
// with --save: it finds every material up to date, wires the textures in and saves the .blend once.
// A requeued task simply runs again: finished materials are skipped (docs/farm.md).

const JOB_TYPE = {
    label: "Texture Forge Bake",
    description: "Bake Texture Forge materials, one task per material, then wire them in and save once",
    settings: [
        { key: "blendfile", type: "string", required: true, subtype: "file_path",
          description: "The .blend whose materials are baked (and saved by the final task)" },
        { key: "materials", type: "string", required: true,
          description: "Comma-separated material names, one task each" },
        { key: "out", type: "string", required: true, subtype: "dir_path",
          description: "Output folder for the raw maps, on storage every worker sees" },
        { key: "maps", type: "string", default: "basecolor,normal,roughness,height,ao",
          description: "Comma-separated maps: basecolor, normal, roughness, height, ao" },
        { key: "size", type: "string", default: "",
          description: "N or WxH (e.g. 2048 or 2048x1024); empty keeps each material's own size" },
        { key: "quality", type: "string", default: "default", choices: ["draft", "default", "high"],
          description: "Engine quality preset" },
        { key: "bake_script", type: "string", default: "scripts/bake.py", subtype: "file_path",
          description: "Path of Texture Forge's scripts/bake.py as the workers see it" },
    ]
};

function splitMaterials(text) {
    const seen = {};
    const names = [];
    for (const raw of String(text || "").split(",")) {
        const name = raw.trim();
        if (name && !seen[name]) {
            seen[name] = true;
            names.push(name);
        }
    }
    return names;
}

function bakeArgs(settings, extra) {
    const args = ["-P", settings.bake_script || "scripts/bake.py", "--", "--out", settings.out];
    if (settings.maps) args.push("--maps", settings.maps);
    if (settings.size) args.push("--size", String(settings.size));
    if (settings.quality) args.push("--quality", settings.quality);
    return args.concat(extra);
}

function blenderCommand(settings, extra) {
    return author.Command("blender-render", {
        exe: "{blender}",
        exeArgs: "{blenderArgs}",
        argsBefore: ["-b"],
        blendfile: settings.blendfile,
        args: bakeArgs(settings, extra),
    });
}

function compileJob(job) {
    const settings = job.settings;
    const materials = splitMaterials(settings.materials);
    if (materials.length === 0) {
        throw "Texture Forge Bake: no material names given in 'materials'";
    }
    const bakeTasks = [];
    for (const material of materials) {
        const task = author.Task(`bake-${material}`, "blender");
        task.addCommand(blenderCommand(settings, ["--material", material]));
        job.addTask(task);
        bakeTasks.push(task);
    }
    const saveArgs = [];
    for (const material of materials) saveArgs.push("--material", material);
    saveArgs.push("--save");
    const save = author.Task("wire-and-save", "blender");
    save.addCommand(blenderCommand(settings, saveArgs));
    for (const task of bakeTasks) save.addDependency(task);
    job.addTask(save);
}
