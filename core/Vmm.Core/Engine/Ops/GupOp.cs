using Vmm.Abstractions;
using Vmm.Core.Machine;
using Vmm.Core.Scenarios;

namespace Vmm.Core.Engine.Ops;

/// <summary><c>host.gup</c>: get_user_pages on the VMM's mm; the pages are put again unless pinned.</summary>
public sealed record HostGup(int Pages = 1, GupFlags Flags = GupFlags.None) : StepOp
{
    private static readonly (string Name, GupFlags Value)[] FlagTable =
        [("write", GupFlags.Write), ("hwpoison", GupFlags.HwPoison), ("allow-poisoned", GupFlags.AllowPoisoned), ("pin", GupFlags.Pin), ("fast", GupFlags.Fast)];

    /// <summary>The values of <c>flags</c>.</summary>
    public static IReadOnlyList<string> FlagNames { get; } = [.. FlagTable.Select(f => f.Name)];

    public static OpDefinition Definition { get; } = new("host.gup", OpAddressing.HvaOrVmGpa, [], ["pages", "flags"], Parse);

    public override string Name => Definition.Name;

    // The range is whole pages from the page holding gpa.
    protected internal override (ulong Bytes, string? Name) Extent => ((ulong)Pages * ScenarioLimits.PageBytes, "pages");

    protected internal override ulong RangeStart(ulong gpa) => gpa & ~(ScenarioLimits.PageBytes - 1);

    private static HostGup Parse(StepReader r)
    {
        var pages = (int)(r.Integer("pages", 1, int.MaxValue) ?? 1);
        var flags = GupFlags.None;
        foreach (var name in r.ListOf("flags", "a list like [\"write\", \"pin\"]", FlagTable.Select(f => f.Name).ToArray()))
            flags |= Array.Find(FlagTable, f => f.Name == name).Value;
        return new HostGup(pages, flags);
    }

    public override KernelResult Execute(OpContext context)
    {
        if (context.VmmAlive() is { } dead) return dead;
        var kernel = context.Kernel;
        var taken = new List<Pfn>();
        var n = kernel.FaultHandler.GetUserPages(kernel.Vmm, context.HostAddress(), Pages, Flags, taken, out var error);
        if ((Flags & GupFlags.Pin) == 0) kernel.FaultHandler.PutPages(taken);
        return n == 0 ? Outcome.Error(error) : Outcome.OkCount(n);
    }
}
