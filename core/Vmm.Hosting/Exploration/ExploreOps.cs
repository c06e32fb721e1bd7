using System.Text.Json.Nodes;
using Vmm.Abstractions;

namespace Vmm.Hosting.Exploration;

/// <summary>Who issues an op. The guest is the victim and always acts; --actors picks the host-side actors that may.</summary>
public enum ExploreActor
{
    Guest,
    Vmm,
    Kernel,
    Device,
    Hardware,
}

/// <summary>How an op's arguments are written: the address and size parameters an <see cref="ExploreStep"/> fills in.</summary>
internal enum OpShape
{
    /// <summary>vm + gpa (page + offset) + data of the step's length.</summary>
    Write,
    /// <summary>vm + gpa (page + offset) + len.</summary>
    Read,
    /// <summary>vm + offset (page + offset into the backing file) + len or data.</summary>
    FileRead,
    FileWrite,
    /// <summary>vm + gpa of the first page + size (the step's pages).</summary>
    Range,
    /// <summary>vm + offset of the first page + size.</summary>
    FileRange,
    /// <summary>vm + gpa (page + offset), no size.</summary>
    Point,
    /// <summary>vm + gpa of the page + pages (GUP).</summary>
    Pages,
    /// <summary>vm only.</summary>
    Vm,
    /// <summary>no address.</summary>
    None,
}

/// <summary>
/// One letter of the explorer's alphabet: a scenario op (docs/scenario-format.md) with its fixed arguments, who
/// issues it, and how its address and size are written. <see cref="ExploreOp.All"/> is the whole alphabet.
/// </summary>
public sealed record ExploreOp
{
    private ExploreOp(string label, string op, ExploreActor actor, OpShape shape, bool changesContents, params (string Key, object Value)[] fixedArguments)
    {
        Label = label;
        Op = op;
        Actor = actor;
        Shape = shape;
        ChangesContents = changesContents;
        Fixed = fixedArguments;
    }

    /// <summary>How explore names the letter ("host.gup write").</summary>
    public string Label { get; }

    /// <summary>The scenario op it writes.</summary>
    public string Op { get; }

    public ExploreActor Actor { get; }

    internal OpShape Shape { get; }

    /// <summary>Whether the op may change a page's contents or its mapping (reads do not): part of the exhaustive mode's state.</summary>
    internal bool ChangesContents { get; }

    internal (string Key, object Value)[] Fixed { get; }

    /// <summary>Whether the step's length (and offset) mean anything for this op.</summary>
    internal bool HasLength => Shape is OpShape.Write or OpShape.Read or OpShape.FileRead or OpShape.FileWrite;

    internal bool HasOffset => HasLength || Shape == OpShape.Point;

    internal bool HasPages => Shape is OpShape.Range or OpShape.FileRange or OpShape.Pages;

    internal bool HasPage => Shape is not (OpShape.Vm or OpShape.None);

    /// <summary>A private write by the guest: the bytes it later expects to read back.</summary>
    internal bool IsGuestSecretWrite => Op == "guest.write" && Fixed.Length == 0;

    internal bool IsGuestPrivateRead => Op == "guest.read" && Fixed.Length == 0;

    public override string ToString() => Label;

    private static readonly string[] PunchHole = ["PUNCH_HOLE", "KEEP_SIZE"];

    /// <summary>The alphabet, in a fixed order (the exhaustive mode enumerates it in this order).</summary>
    public static IReadOnlyList<ExploreOp> All { get; } =
    [
        new("guest.write", "guest.write", ExploreActor.Guest, OpShape.Write, true),
        new("guest.read", "guest.read", ExploreActor.Guest, OpShape.Read, false),
        new("guest.write shared", "guest.write", ExploreActor.Guest, OpShape.Write, true, ("shared", true)),
        new("guest.read shared", "guest.read", ExploreActor.Guest, OpShape.Read, false, ("shared", true)),
        new("guest.convert shared", "guest.convert", ExploreActor.Guest, OpShape.Range, true, ("to", "shared")),
        new("guest.convert private", "guest.convert", ExploreActor.Guest, OpShape.Range, true, ("to", "private")),
        new("host.read", "host.read", ExploreActor.Vmm, OpShape.Read, true),
        new("host.write", "host.write", ExploreActor.Vmm, OpShape.Write, true),
        new("host.gup", "host.gup", ExploreActor.Vmm, OpShape.Pages, true),
        new("host.gup write", "host.gup", ExploreActor.Vmm, OpShape.Pages, true, ("flags", new[] { "write" })),
        new("host.gup pin", "host.gup", ExploreActor.Vmm, OpShape.Pages, true, ("flags", new[] { "write", "pin" })),
        new("host.procmem-read", "host.procmem-read", ExploreActor.Vmm, OpShape.Read, true),
        new("host.procmem-write", "host.procmem-write", ExploreActor.Vmm, OpShape.Write, true),
        new("host.process-vm-readv", "host.process-vm-readv", ExploreActor.Vmm, OpShape.Read, true),
        new("host.pread", "host.pread", ExploreActor.Vmm, OpShape.FileRead, true),
        new("host.pwrite", "host.pwrite", ExploreActor.Vmm, OpShape.FileWrite, true),
        new("host.madvise HWPOISON", "host.madvise", ExploreActor.Vmm, OpShape.Range, true, ("advice", "HWPOISON")),
        new("host.madvise DONTNEED", "host.madvise", ExploreActor.Vmm, OpShape.Range, true, ("advice", "DONTNEED")),
        new("host.madvise SOFT_OFFLINE", "host.madvise", ExploreActor.Vmm, OpShape.Range, true, ("advice", "SOFT_OFFLINE")),
        new("host.fallocate punch-hole", "host.fallocate", ExploreActor.Vmm, OpShape.FileRange, true, ("mode", PunchHole)),
        new("vmm.set-attributes private", "vmm.set-attributes", ExploreActor.Vmm, OpShape.Range, true, ("private", true)),
        new("vmm.set-attributes shared", "vmm.set-attributes", ExploreActor.Vmm, OpShape.Range, true, ("private", false)),
        new("host.fork", "host.fork", ExploreActor.Vmm, OpShape.None, true),
        new("vm.destroy", "vm.destroy", ExploreActor.Vmm, OpShape.Vm, true),
        new("kernel.read", "kernel.read", ExploreActor.Kernel, OpShape.Read, true),
        new("kernel.write", "kernel.write", ExploreActor.Kernel, OpShape.Write, true),
        new("kernel.read kvm", "kernel.read", ExploreActor.Kernel, OpShape.Read, true, ("requester", "kvm")),
        new("kernel.write kvm", "kernel.write", ExploreActor.Kernel, OpShape.Write, true, ("requester", "kvm")),
        new("kernel.read seam", "kernel.read", ExploreActor.Kernel, OpShape.Read, true, ("requester", "seam")),
        new("device.dma-read", "device.dma-read", ExploreActor.Device, OpShape.Read, true),
        new("device.dma-write", "device.dma-write", ExploreActor.Device, OpShape.Write, true),
        new("hw.memory-error", "hw.memory-error", ExploreActor.Hardware, OpShape.Point, true),
        new("hw.memory-error consumed", "hw.memory-error", ExploreActor.Hardware, OpShape.Point, true, ("consumed", true)),
        new("hw.flip-bit", "hw.flip-bit", ExploreActor.Hardware, OpShape.Point, true, ("bit", 0)),
        new("hw.unpoison", "hw.unpoison", ExploreActor.Hardware, OpShape.Point, true),
    ];

    /// <summary>The --actors names: vmm, kernel, device, hw.</summary>
    public static IReadOnlyDictionary<string, ExploreActor> ActorNames { get; } = new Dictionary<string, ExploreActor>(StringComparer.Ordinal)
    {
        ["vmm"] = ExploreActor.Vmm,
        ["kernel"] = ExploreActor.Kernel,
        ["device"] = ExploreActor.Device,
        ["hw"] = ExploreActor.Hardware,
    };

    /// <summary>Reads --actors ("vmm,kernel"); unknown names are an <see cref="ExploreException"/>.</summary>
    public static IReadOnlySet<ExploreActor> ParseActors(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return ActorNames.Values.ToHashSet();
        var actors = new HashSet<ExploreActor>();
        foreach (var name in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (!ActorNames.TryGetValue(name, out var actor))
                throw new ExploreException($"--actors: unknown actor \"{Vmm.Core.Scenarios.NameHints.Shorten(name)}\"{Vmm.Core.Scenarios.NameHints.DidYouMean(name, ActorNames.Keys)}; known: {string.Join(", ", ActorNames.Keys)} (the guest always acts)");
            actors.Add(actor);
        }
        if (actors.Count == 0) throw new ExploreException($"--actors: name at least one of {string.Join(", ", ActorNames.Keys)}");
        return actors;
    }

    /// <summary>The letters the guest and <paramref name="actors"/> issue, in alphabet order.</summary>
    public static IReadOnlyList<ExploreOp> For(IReadOnlySet<ExploreActor> actors) =>
        All.Where(o => o.Actor == ExploreActor.Guest || actors.Contains(o.Actor)).ToList();
}

/// <summary>
/// One step of an explored sequence: a letter of the alphabet at a page of the VM, with an offset into the page, a
/// length (reads and writes) and a page count (ranges). Written as a scenario step by <see cref="ExploreScenario"/>.
/// </summary>
public sealed record ExploreStep(ExploreOp Op, int Page, int Offset = 0, int Length = ExploreStep.DefaultLength, int Pages = 1)
{
    public const int DefaultLength = 64;

    /// <summary>"host.gup write page 1" / "guest.write page 0 +64 8 bytes".</summary>
    public override string ToString()
    {
        var text = Op.Label;
        if (Op.HasPage) text += $" page {Page}";
        if (Op.HasOffset && Offset != 0) text += $" +{Offset}";
        if (Op.HasLength) text += $" {Length} bytes";
        if (Op.HasPages && Pages != 1) text += $" {Pages} pages";
        return text;
    }
}

/// <summary>
/// Writes a sequence of <see cref="ExploreStep"/>s as a scenario document through <see cref="ScenarioWriter"/>: one
/// protected VM of a few pages on a small host. The guest writes secret words (<see cref="GuestSecret"/>) and reads
/// back what it last wrote with that as the expected data, as the workloads do, so plaintext leaks and silent
/// corruptions are counted by <see cref="Vmm.Core.Comparisons.RunMetrics"/> as in <c>vmm compare</c>.
/// </summary>
internal static class ExploreScenario
{
    public const string VmName = "vm1";
    public const ulong PageSize = 4096;

    /// <summary>The small host every explored run gets (2 MiB, the least the engine rounds to): runs stay cheap.</summary>
    public const ulong HostMemory = 2UL << 20;

    public static JsonObject Write(string name, IReadOnlyList<ExploreStep> steps, int pages) => Write(name, steps, pages, out _);

    /// <summary>
    /// As <see cref="Write(string, IReadOnlyList{ExploreStep}, int)"/>; <paramref name="unfaithful"/> says why the sequence is not one a
    /// careful guest would run (it shares a page that still holds its secrets: what the host then reads, the guest gave away).
    /// </summary>
    public static JsonObject Write(string name, IReadOnlyList<ExploreStep> steps, int pages, out string? unfaithful)
    {
        unfaithful = null;
        var writer = new ScenarioWriter(name);
        writer.Vm(VmName, (ulong)pages * PageSize, backing: "shmem", isProtected: true);
        // What the guest last wrote privately, byte by byte, so its reads carry the expected data.
        var shadow = new Dictionary<int, (byte[] Data, bool[] Known)>();
        for (var i = 0; i < steps.Count; i++)
        {
            var step = steps[i];
            var op = step.Op;
            var gpa = (ulong)step.Page * PageSize + (ulong)step.Offset;
            var pageGpa = (ulong)step.Page * PageSize;
            var size = (ulong)step.Pages * PageSize;
            var written = writer.Step(op.Op, op.Shape is OpShape.None ? null : VmName, op.Shape switch
            {
                OpShape.Write or OpShape.Read or OpShape.Point => gpa,
                OpShape.Range or OpShape.Pages => pageGpa,
                _ => null,
            }, [.. Arguments(step, i, gpa, pageGpa, size), .. op.Fixed]);
            if (op.IsGuestSecretWrite)
            {
                var page = shadow.TryGetValue(step.Page, out var known) ? known : (new byte[PageSize], new bool[PageSize]);
                var data = Data(step, i);
                data.CopyTo(page.Item1, step.Offset);
                Array.Fill(page.Item2, true, step.Offset, step.Length);
                shadow[step.Page] = page;
            }
            else if (op.IsGuestPrivateRead)
            {
                if (shadow.TryGetValue(step.Page, out var known) && Array.TrueForAll(known.Known[step.Offset..(step.Offset + step.Length)], k => k))
                    ScenarioWriter.ExpectData(written, known.Data.AsSpan(step.Offset, step.Length));
            }
            else if (op.Actor == ExploreActor.Guest && op.ChangesContents || op.Op == "vm.destroy")
            {
                if (op.Op == "guest.convert" && op.Fixed.Contains(("to", "shared")))
                    for (var p = step.Page; p < step.Page + step.Pages; p++)
                        if (shadow.TryGetValue(p, out var held) && Array.Exists(held.Known, k => k))
                            unfaithful ??= $"step {i} shares page {p}, which still holds the guest's secrets";
                // The guest gave the page up (shared it, or wrote it shared): it expects nothing of it any more.
                for (var p = step.Page; p < step.Page + (op.HasPages ? step.Pages : 1); p++) shadow.Remove(p);
                if (op.Op == "vm.destroy") shadow.Clear();
            }
        }
        var document = writer.ToJson();
        document["host"] = new JsonObject { ["memory"] = ScenarioWriter.Hex(HostMemory) };
        return document;
    }

    private static IEnumerable<(string Key, object Value)> Arguments(ExploreStep step, int index, ulong gpa, ulong pageGpa, ulong size)
    {
        switch (step.Op.Shape)
        {
            case OpShape.Write: yield return ("data", Data(step, index)); break;
            case OpShape.Read: yield return ("len", step.Length); break;
            case OpShape.FileRead: yield return ("offset", gpa); yield return ("len", step.Length); break;
            case OpShape.FileWrite: yield return ("offset", gpa); yield return ("data", Data(step, index)); break;
            case OpShape.Range: yield return ("size", size); break;
            case OpShape.FileRange: yield return ("offset", pageGpa); yield return ("size", size); break;
            case OpShape.Pages: if (step.Pages != 1) yield return ("pages", step.Pages); break;
        }
    }

    /// <summary>The guest's private writes are secret words (serials from the step index); everyone else writes plain bytes that never look secret.</summary>
    private static byte[] Data(ExploreStep step, int index)
    {
        if (step.Op.IsGuestSecretWrite) return GuestSecret.Of(step.Length, index * 512);
        var data = new byte[step.Length];
        for (var i = 0; i < data.Length; i++) data[i] = i % GuestSecret.WordSize == 0 ? (byte)0 : (byte)(0xa0 + index % 16);
        return data;
    }
}
