using Vmm.Abstractions;
using Vmm.Core.Engine;

namespace Vmm.Hosting;

/// <summary>What a run may change from the file: the kernel version (<c>--kernel</c>) and component names per kind (<c>--set kind=name</c>).</summary>
public sealed record ScenarioOverrides
{
    public static readonly ScenarioOverrides None = new();

    public KernelVersion? Kernel { get; init; }

    public IReadOnlyDictionary<ComponentKind, string> Components { get; init; } = new Dictionary<ComponentKind, string>();

    /// <summary><c>--contents-free</c>: memory.contents "none" for every scenario (docs/contents-free.md).</summary>
    public bool ContentsFree { get; init; }

    internal RunOverrides ToEngine() => new() { Kernel = Kernel, Components = Components, ContentsFree = ContentsFree };
}
