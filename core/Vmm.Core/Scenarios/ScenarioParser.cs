using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Vmm.Core.Engine.Ops;
using Vmm.Abstractions;

namespace Vmm.Core.Scenarios;

/// <summary>
/// Reads one scenario file (scenario-format.md, version 1) into a <see cref="Scenario"/>. Every problem is a
/// <see cref="ScenarioException"/> at the line and column of the offending property or value, with a message
/// that names the fix: names match exactly, each op takes only its own properties, and sizes, data and
/// addresses are held to <see cref="ScenarioLimits"/>. Steps are numbered from 0 (their index in <c>steps</c>).
/// </summary>
public static partial class ScenarioParser
{
    /// <summary>The ops of scenario-format.md, in the table's order, then the extensions (<see cref="OpCatalog.Default"/>).</summary>
    public static IReadOnlyList<string> Ops => OpCatalog.Default.Names;

    /// <summary>The properties a step of <paramref name="op"/> may have (its own arguments plus <c>op</c> and <c>expect</c>).</summary>
    public static IReadOnlyList<string> PropertiesOf(string op) =>
        OpCatalog.Default.TryGet(op, out var definition) ? definition.Properties : throw new ArgumentException($"unknown op '{op}'", nameof(op));

    /// <summary>The properties a step of <paramref name="op"/> must have besides its address (<c>vm</c>, <c>gpa</c>, <c>hva</c>, <c>pfn</c>, <c>offset</c>): the rest of <see cref="PropertiesOf"/> is optional.</summary>
    public static IReadOnlyList<string> RequiredPropertiesOf(string op) =>
        OpCatalog.Default.TryGet(op, out var definition) ? definition.Required : throw new ArgumentException($"unknown op '{op}'", nameof(op));

    /// <summary>
    /// The names a property with a fixed set of values accepts, exactly as written: <c>backing</c> and <c>gmemFlags</c>
    /// of a VM; <c>to</c>, <c>advice</c>, <c>mode</c>, <c>requester</c> and <c>flags</c> of a step; <c>outcome</c> (an
    /// expectation given as a string) and <c>code</c> (of a sigbus outcome).
    /// </summary>
    public static IReadOnlyList<string> NamesOf(string property) => property switch
    {
        "backing" => Backings.Select(b => b.Name).ToList(),
        "gmemFlags" => GmemFlagNames.Select(f => f.Name).ToList(),
        "to" => GuestConvert.Targets,
        "advice" => Madvise.Advices,
        "mode" => Fallocate.Modes,
        "requester" => KernelRequester.Names,
        "flags" => HostGup.FlagNames,
        "prot" => Mprotect.Prots,
        "outcome" => OutcomeNames.Select(o => o.Name).ToList(),
        "code" => SigBusCodes.Select(c => c.Name).ToList(),
        _ => throw new ArgumentException($"'{property}' has no fixed set of names", nameof(property)),
    };

    private const string SizeHint = "expected a size like \"4K\", \"2M\", 4096 or \"0x1000\"";
    private const string DataHint = "expected hex bytes like \"0xdeadbeef\", {\"fill\": \"0xaa\", \"len\": 4096} or {\"pattern\": 7, \"len\": 4096}";

    private static readonly string[] TopLevelProperties = ["$schema", "name", "description", "kernel", "components", "options", "host", "vms", "steps"];
    private static readonly string[] VmProperties = ["name", "memory", "protected", "backing", "thp", "gmemFlags"];
    private static readonly string[] StateFields = ["hwpoison", "private", "hostMapped", "hwpoisonEntry", "huge", "owner", "lines", "ept", "pfn", "pte", "refcount", "mapcount", "hwpEntryRefs", "eptHuge"];
    private static readonly string[] StateBoolFields = ["hwpoison", "private", "hostMapped", "hwpoisonEntry", "huge", "ept", "eptHuge"];

    private static readonly (string Name, BackingKind Value)[] Backings =
        [("anon", BackingKind.Anon), ("shmem", BackingKind.Shmem), ("hugetlb", BackingKind.Hugetlb), ("file", BackingKind.File), ("guest-memfd", BackingKind.GuestMemfd)];
    private static readonly (string Name, GuestMemfdFlags Value)[] GmemFlagNames = [("MMAP", GuestMemfdFlags.Mmap), ("INIT_SHARED", GuestMemfdFlags.InitShared)];
    private static readonly (string Name, OutcomeKind Value)[] OutcomeNames =
    [
        ("ok", OutcomeKind.Ok), ("guest-mce", OutcomeKind.GuestMce), ("guest-killed", OutcomeKind.GuestKilled), ("guest-vc", OutcomeKind.GuestVc),
        ("host-panic", OutcomeKind.HostPanic), ("shutdown", OutcomeKind.Shutdown), ("not-run", OutcomeKind.NotRun),
    ];
    private static readonly string[] OutcomeObjectKeys = ["ok", "sigbus", "errno", "kvm-exit", "killed", "state"];
    private static readonly (string Name, SigBusCode Value)[] SigBusCodes = Enum.GetValues<SigBusCode>().Select(c => (c.ToString(), c)).ToArray();
    internal static (string, string)[] Same(params string[] names) => names.Select(n => (n, n)).ToArray();

    /// <summary>Reads and parses a scenario file; a missing or unreadable file is a <see cref="ScenarioException"/> too.</summary>
    public static Scenario ParseFile(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ScenarioException("no such file; check the path", new SourceLocation(path, 0, 0));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new ScenarioException($"cannot read the file: {e.Message}", new SourceLocation(path, 0, 0));
        }
        return Parse(bytes, path);
    }

    /// <summary>Parses scenario JSON text; <paramref name="file"/> is only used in locations.</summary>
    public static Scenario Parse(string json, string file) => Parse(Encoding.UTF8.GetBytes(json), file);

    /// <summary>Parses scenario JSON text whose steps are ops of <paramref name="catalog"/>.</summary>
    public static Scenario Parse(string json, string file, OpCatalog catalog) => Parse(Encoding.UTF8.GetBytes(json), file, catalog);

    /// <summary>Parses UTF-8 scenario JSON; <paramref name="file"/> is only used in locations.</summary>
    public static Scenario Parse(ReadOnlyMemory<byte> utf8, string file) => Parse(utf8, file, OpCatalog.Default);

    /// <summary>Parses UTF-8 scenario JSON whose steps are ops of <paramref name="catalog"/>.</summary>
    public static Scenario Parse(ReadOnlyMemory<byte> utf8, string file, OpCatalog catalog)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(catalog);
        var (document, map) = JsonSourceMap.Parse(utf8, file);
        using (document)
        {
            return new Reader(map, catalog).ReadScenario(document.RootElement);
        }
    }

    /// <summary>Parses a size or address as written in a scenario string ("4K", "0x1000", "4096").</summary>
    public static bool TryParseSize(string text, out ulong value) => ParseSizeText(text, out value) == SizeProblem.None;

    private enum SizeProblem
    {
        None,
        Malformed,
        Negative,
        Fraction,
        TooLarge,
    }

    private static SizeProblem ParseSizeText(string text, out ulong value)
    {
        ArgumentNullException.ThrowIfNull(text);
        value = 0;
        var match = SizePattern().Match(text);
        if (!match.Success)
        {
            if (SignedOrFractionPattern().Match(text) is { Success: true } number)
                return number.Groups[1].Success ? SizeProblem.Negative : SizeProblem.Fraction;
            return SizeProblem.Malformed;
        }
        var digits = match.Groups[1].Value;
        var parsed = digits.StartsWith("0x", StringComparison.Ordinal)
            ? ulong.TryParse(digits.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value)
            : ulong.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out value);
        if (!parsed) return SizeProblem.TooLarge;
        var shift = match.Groups[2].Value switch { "K" => 10, "M" => 20, "G" => 30, "T" => 40, _ => 0 };
        if (shift > 0 && value > ulong.MaxValue >> shift) return SizeProblem.TooLarge;
        value <<= shift;
        return SizeProblem.None;
    }

    [GeneratedRegex(@"^(0x[0-9a-fA-F]+|[0-9]+)([KMGT])?$")]
    private static partial Regex SizePattern();

    /// <summary>A number a size cannot be: negative (group 1) or with a fraction or exponent.</summary>
    [GeneratedRegex(@"^(-)?[0-9]*(\.[0-9]+)?([eE][-+]?[0-9]+)?[KMGT]?$")]
    private static partial Regex SignedOrFractionPattern();

    [GeneratedRegex(@"^0x([0-9a-fA-F]{2})+$")]
    private static partial Regex HexBytesPattern();

    [GeneratedRegex(@"^[0-9]+\.[0-9]+$")]
    private static partial Regex KernelPattern();

    [GeneratedRegex(@"^E[A-Z0-9]+$")]
    private static partial Regex ErrnoPattern();

    internal readonly record struct Node(JsonElement Element, string Path)
    {
        public JsonValueKind Kind => Element.ValueKind;
        /// <summary>The property name, or for a list item the list's name.</summary>
        public string Name => NameOf(IsItem ? Path[..Path.LastIndexOf('[')] : Path);

        public bool IsItem => Path.EndsWith(']') && !Path.EndsWith("']", StringComparison.Ordinal);

        private static string NameOf(string path) => path.EndsWith("']", StringComparison.Ordinal)
            ? path[(path.LastIndexOf("['", StringComparison.Ordinal) + 2)..^2].Replace("\\'", "'", StringComparison.Ordinal)
            : path[(path.LastIndexOf('.') + 1)..];

        public Node? Get(string property) =>
            Element.ValueKind == JsonValueKind.Object && Element.TryGetProperty(property, out var value) ? new Node(value, JsonSourceMap.Child(Path, property)) : null;

        public IEnumerable<(string Name, Node Value)> Properties()
        {
            var path = Path;
            return Element.EnumerateObject().Select(p => (p.Name, new Node(p.Value, JsonSourceMap.Child(path, p.Name))));
        }

        public IEnumerable<Node> Items()
        {
            var path = Path;
            return Element.EnumerateArray().Select((item, i) => new Node(item, JsonSourceMap.Item(path, i)));
        }
    }

    /// <summary>A declared VM with what steps are checked against.</summary>
    internal sealed record VmBounds(VmSpec Spec)
    {
        public string Name => Spec.Name;
        public ulong Memory => Spec.Memory;
        public bool HasFile => Spec.Backing != BackingKind.Anon;
    }

    internal sealed class Reader(JsonSourceMap map, OpCatalog catalog)
    {
        private ulong _dataBytes;

        public Scenario ReadScenario(JsonElement rootElement)
        {
            var root = new Node(rootElement, "$");
            if (root.Kind != JsonValueKind.Object)
                throw Fail(root, $"a scenario is one JSON object like {{\"name\": \"...\", \"steps\": [...]}}, not {Describe(root)}");
            CheckProperties(root, TopLevelProperties, "top-level property");

            var name = NonEmptyString(Required(root, "name", "the scenario"));
            var description = root.Get("description") is { } descriptionNode ? String(descriptionNode) : null;
            var kernel = root.Get("kernel") is { } kernelNode ? Kernel(kernelNode) : KernelVersion.Default;
            var componentLocations = new Dictionary<ComponentKind, SourceLocation>();
            var components = root.Get("components") is { } componentsNode ? Components(componentsNode, componentLocations) : [];
            var options = new Dictionary<string, (JsonElement Value, SourceLocation Location)>(StringComparer.Ordinal);
            if (root.Get("options") is { } optionsNode)
            {
                ExpectObject(optionsNode, "{\"linux.earlyKill\": false}");
                Options(optionsNode, "", options);
            }
            ulong? hostMemory = null;
            Node? hostMemoryNode = null;
            if (root.Get("host") is { } host)
            {
                ExpectObject(host, "{\"memory\": \"256M\"}");
                CheckProperties(host, ["memory"], "host property");
                if (host.Get("memory") is { } memory)
                {
                    hostMemoryNode = memory;
                    hostMemory = HostMemory(memory);
                }
            }
            var vms = root.Get("vms") is { } vmsNode ? Vms(vmsNode, hostMemory, hostMemoryNode) : [];
            var hostFrames = ScenarioLimits.HostFrames(hostMemory ?? ScenarioLimits.DefaultHostMemory(vms.Aggregate(0UL, (sum, vm) => sum + vm.Memory)));
            var stepsNode = Required(root, "steps", "the scenario");
            ExpectArray(stepsNode, "a list of steps like [{\"op\": \"host.read\", ...}]");
            var bounds = vms.Select(vm => new VmBounds(vm)).ToList();
            var steps = stepsNode.Items().Select((step, index) => Step(step, index, bounds, hostFrames)).ToList();

            return new Scenario
            {
                File = map.File,
                Name = name,
                Description = description,
                Kernel = kernel,
                Components = components,
                ComponentLocations = componentLocations,
                Options = options,
                HostMemory = hostMemory,
                Vms = vms,
                Steps = steps,
            };
        }

        private KernelVersion Kernel(Node node)
        {
            var text = node.Kind == JsonValueKind.String ? node.Element.GetString()! : "";
            if (!KernelPattern().IsMatch(text) || !KernelVersion.TryParse(text, out var version))
                throw Fail(node, $"expected a kernel version like \"5.16\" or \"6.11\", not {Describe(node)}");
            return version;
        }

        private Dictionary<ComponentKind, string> Components(Node node, Dictionary<ComponentKind, SourceLocation> locations)
        {
            ExpectObject(node, "{\"memory\": \"plain\", \"policy\": \"none\"}");
            var result = new Dictionary<ComponentKind, string>();
            var kinds = ComponentKind.WellKnown.Select(k => k.Name).ToList();
            foreach (var (name, value) in node.Properties())
            {
                if (!ComponentKinds.TryParse(name, out var kind))
                    throw FailAtName(value, $"unknown component kind {NameHints.Quote(name)}{NameHints.DidYouMean(name, kinds)}; use one of: {string.Join(", ", kinds)}");
                result[kind] = NonEmptyString(value);
                locations[kind] = Location(value);
            }
            return result;
        }

        /// <summary>Flattens nested sections: {"linux": {"earlyKill": false}} is "linux.earlyKill".</summary>
        private void Options(Node node, string prefix, Dictionary<string, (JsonElement Value, SourceLocation Location)> into)
        {
            foreach (var (name, value) in node.Properties())
            {
                var key = prefix + name;
                if (value.Kind == JsonValueKind.Object)
                {
                    Options(value, key + ".", into);
                    continue;
                }
                if (!key.Contains('.', StringComparison.Ordinal) || key.StartsWith('.') || key.EndsWith('.'))
                    throw FailAtName(value, $"option {NameHints.Quote(key)} needs a component: write \"<component>.<option>\", for example \"linux.earlyKill\"");
                if (into.ContainsKey(key))
                    throw FailAtName(value, $"option {NameHints.Quote(key)} is given twice; keep only one");
                into[key] = (value.Element.Clone(), map.NameOf(value.Path));
            }
        }

        private ulong HostMemory(Node node)
        {
            var memory = Size(node);
            if (memory < ScenarioLimits.PageBytes || memory % ScenarioLimits.PageBytes != 0)
                throw Fail(node, $"host \"memory\" must be a non-zero multiple of 4K, not {Describe(node)}");
            if (memory > ScenarioLimits.MaxHostMemory)
                throw Fail(node, $"host \"memory\" is {ScenarioLimits.Format(memory)}, more than the simulator's limit of {ScenarioLimits.Format(ScenarioLimits.MaxHostMemory)}; use at most \"64T\"");
            return memory;
        }

        private List<VmSpec> Vms(Node node, ulong? hostMemory, Node? hostMemoryNode)
        {
            ExpectArray(node, "a list of VMs like [{\"name\": \"vm1\", \"memory\": \"64M\"}]");
            var vms = new List<VmSpec>();
            ulong total = 0;
            ulong mappedUp = ScenarioLimits.VmmMappingBase, mappedDown = ScenarioLimits.VmmMappingBase;
            foreach (var vm in node.Items())
            {
                ExpectObject(vm, "{\"name\": \"vm1\", \"memory\": \"64M\"}");
                CheckProperties(vm, VmProperties, "VM property");
                var nameNode = Required(vm, "name", "a VM");
                var name = NonEmptyString(nameNode);
                if (vms.Any(v => v.Name == name))
                    throw Fail(nameNode, $"two VMs are named {NameHints.Quote(name)}; give each VM its own name");
                var memoryNode = Required(vm, "memory", $"VM {NameHints.Quote(name)}");
                var memory = Size(memoryNode);
                var isProtected = vm.Get("protected") is { } protectedNode && Bool(protectedNode);
                var backingNode = vm.Get("backing");
                var backing = backingNode is { } b ? OneOf(b, Backings) : BackingKind.Shmem;
                var thp = vm.Get("thp") is { } thpNode && Bool(thpNode);
                var gmemFlags = GuestMemfdFlags.None;
                if (vm.Get("gmemFlags") is { } flagsNode)
                {
                    ExpectArray(flagsNode, "a list like [\"MMAP\", \"INIT_SHARED\"]");
                    foreach (var item in flagsNode.Items()) gmemFlags |= OneOf(item, GmemFlagNames);
                    if (backing != BackingKind.GuestMemfd)
                        throw FailAtName(flagsNode, $"\"gmemFlags\" apply to guest-memfd backing only; set \"backing\": \"guest-memfd\" on VM {NameHints.Quote(name)} or remove \"gmemFlags\"");
                }

                if (memory < ScenarioLimits.PageBytes || memory % ScenarioLimits.PageBytes != 0)
                    throw Fail(memoryNode, $"VM {NameHints.Quote(name)}: \"memory\" must be a non-zero multiple of 4K, not {Describe(memoryNode)}");
                if (backing == BackingKind.Hugetlb && memory % PageGeometry.HugeSize != 0)
                    throw Fail(memoryNode, $"VM {NameHints.Quote(name)}: hugetlb memory must be a multiple of 2M, not {ScenarioLimits.Format(memory)}");
                if (hostMemory is { } host && memory > host)
                    throw Fail(memoryNode, $"VM {NameHints.Quote(name)} has {ScenarioLimits.Format(memory)} of memory, more than host.memory ({ScenarioLimits.Format(host)}); raise host.memory or give the VM less");
                if (!ScenarioLimits.TryPlaceVmMapping(ref mappedUp, ref mappedDown, memory, out _))
                    throw Fail(memoryNode, $"VM {NameHints.Quote(name)} ({ScenarioLimits.Format(memory)}) does not fit the VMM's address space: the VMM maps each VM at the next 1G boundary from 0x{ScenarioLimits.VmmMappingBase:x} up to 0x{ScenarioLimits.UserSpaceEnd:x}, and one that no longer fits there top-down below 0x{ScenarioLimits.VmmMappingBase:x} down to 0x{ScenarioLimits.VmmLowFloor:x}, each rounded up to 1G; give the VMs less memory or use fewer VMs");
                total += memory;
                if (hostMemory is { } hostBytes && total > hostBytes)
                    throw Fail(hostMemoryNode!.Value, $"host.memory ({ScenarioLimits.Format(hostBytes)}) is smaller than the VMs' memory ({ScenarioLimits.Format(total)} with VM {NameHints.Quote(name)}); raise host.memory or leave it out (the default is the VMs' memory plus 256M)");
                vms.Add(new VmSpec(name, memory, isProtected, backing, thp, Location(vm)) { GmemFlags = gmemFlags });
            }
            return vms;
        }

        private StepSpec Step(Node step, int index, List<VmBounds> vms, ulong hostFrames)
        {
            ExpectObject(step, "{\"op\": \"host.read\", \"vm\": \"vm1\", \"gpa\": \"0x1000\", \"len\": 4}");
            var opNode = Required(step, "op", "a step");
            var op = String(opNode);
            if (!catalog.TryGet(op, out var definition))
                throw Fail(opNode, $"unknown op {NameHints.Quote(op)}{NameHints.DidYouMean(op, catalog.Names)}; use one of: {string.Join(", ", catalog.Names)}");
            var what = $"step {index} ({op})";
            CheckStepProperties(step, op, definition, what);

            VmBounds? vm = null;
            if (step.Get("vm") is { } vmNode)
            {
                var vmName = String(vmNode);
                vm = vms.Find(v => v.Name == vmName);
                if (vm is null)
                    throw Fail(vmNode, vms.Count == 0
                        ? $"no VM named {NameHints.Quote(vmName)}: the scenario declares no VMs; add one under \"vms\""
                        : $"no VM named {NameHints.Quote(vmName)}{NameHints.DidYouMean(vmName, vms.Select(v => v.Name))}; the scenario's VMs: {NameHints.OneLine(string.Join(", ", vms.Select(v => NameHints.Shorten(v.Name))), 300)}");
            }

            // The address first, then the op's own properties, then the expectation: the order problems are reported in.
            var at = new StepAddress(vm?.Name, OptionalSize(step, "gpa"), OptionalSize(step, "hva"), OptionalSize(step, "pfn"), OptionalSize(step, "offset"));
            var reader = new StepReader(this, step, what, vm, vms);
            var parsed = definition.Parse(reader) with { At = at };
            var expect = step.Get("expect") is { } expectNode ? Expectation(expectNode) : null;
            CheckStep(step, parsed, definition, reader, vm, hostFrames, what);
            return new StepSpec { Index = index, Op = parsed, Location = Location(step), Expect = expect };
        }

        /// <summary>Each op takes only its own properties; one it does not use is an error listing the ones it does.</summary>
        private void CheckStepProperties(Node step, string op, OpDefinition definition, string what)
        {
            foreach (var (name, value) in step.Properties())
            {
                if (definition.Properties.Contains(name)) continue;
                var takes = $"{op} takes: {string.Join(", ", definition.Properties)}";
                throw FailAtName(value, catalog.AllProperties.Contains(name)
                    ? $"{what} does not use {NameHints.Quote(name)}; remove it ({takes})"
                    : $"unknown property {NameHints.Quote(name)} in {what}{NameHints.DidYouMean(name, definition.Properties)}; {takes}");
            }
        }

        /// <summary>Addressing, required properties and ranges: what the engine would otherwise find only when the step runs.</summary>
        private void CheckStep(Node step, StepOp op, OpDefinition definition, StepReader reader, VmBounds? vm, ulong hostFrames, string what)
        {
            foreach (var property in definition.Required)
                if (step.Get(property) is null) throw Fail(step, $"{what} needs {NameHints.Quote(property)}");

            // How much memory from the address the step touches: its data, len, size or pages.
            var (extent, extentName) = op.Extent;
            var at = op.At;

            switch (definition.Addressing)
            {
                case OpAddressing.Vm:
                    if (vm is null) throw Fail(step, $"{what} needs \"vm\"");
                    op.CheckBeforeRange(reader);
                    break;
                case OpAddressing.VmGpa:
                    RequireVmGpa(step, vm, what);
                    op.CheckBeforeRange(reader);
                    CheckGpaRange(step, vm!, op.RangeStart(at.Gpa!.Value), extent, extentName, what);
                    break;
                case OpAddressing.HvaOrVmGpa:
                    if (at.Hva is not null && (vm is not null || at.Gpa is not null))
                        throw Fail(step, $"{what} takes \"hva\" or \"vm\" and \"gpa\", not both; remove one");
                    if (at.Hva is null)
                    {
                        if (vm is null && at.Gpa is null) throw Fail(step, $"{what} needs \"hva\", or \"vm\" and \"gpa\"");
                        RequireVmGpa(step, vm, what);
                        op.CheckBeforeRange(reader);
                        CheckGpaRange(step, vm!, op.RangeStart(at.Gpa!.Value), extent, extentName, what);
                    }
                    break;
                case OpAddressing.VmGpaOrPfn:
                    if (at.Pfn is { } pfn)
                    {
                        if (vm is not null || at.Gpa is not null)
                            throw Fail(step, $"{what} takes \"pfn\" or \"vm\" and \"gpa\", not both; remove one");
                        op.CheckBeforeRange(reader);
                        if (pfn >= hostFrames)
                            throw Fail(step.Get("pfn")!.Value, $"{what}: pfn 0x{pfn:x} is outside host memory, which has 0x{hostFrames:x} frames (pfn 0 to 0x{hostFrames - 1:x}); use a smaller pfn or a larger host.memory");
                        if (!ScenarioLimits.Inside(pfn * ScenarioLimits.PageBytes, extent, hostFrames * ScenarioLimits.PageBytes))
                            throw Fail(step.Get("pfn")!.Value, $"{what}: pfn 0x{pfn:x} + {extentName} 0x{extent:x} runs past the end of host memory ({ScenarioLimits.Format(hostFrames * ScenarioLimits.PageBytes)}); use less {extentName} or a smaller pfn");
                    }
                    else
                    {
                        if (vm is null && at.Gpa is null) throw Fail(step, $"{what} needs \"vm\" and \"gpa\", or \"pfn\"");
                        RequireVmGpa(step, vm, what);
                        op.CheckBeforeRange(reader);
                        CheckGpaRange(step, vm!, op.RangeStart(at.Gpa!.Value), extent, extentName, what);
                    }
                    break;
                case OpAddressing.VmFile:
                    if (vm is null) throw Fail(step, $"{what} needs \"vm\"");
                    if (!vm.HasFile)
                        throw Fail(step, $"{what}: VM {NameHints.Quote(vm.Name)} is anon-backed, so there is no backing file; use backing shmem, hugetlb, file or guest-memfd");
                    op.CheckBeforeRange(reader);
                    var offset = at.Offset ?? 0;
                    // The backing file has the VM's size and its offset 0 is gpa 0 (scenario-format.md).
                    if (!ScenarioLimits.Inside(offset, extent, vm.Memory) || (extent == 0 && offset >= vm.Memory))
                        throw Fail(step.Get("offset") ?? step, $"{what}: offset 0x{offset:x} + {extentName} 0x{extent:x} is outside the backing file of VM {NameHints.Quote(vm.Name)} ({ScenarioLimits.Format(vm.Memory)}, the VM's size); keep offset + {extentName} within {ScenarioLimits.Format(vm.Memory)}");
                    break;
                default:
                    op.CheckBeforeRange(reader);
                    break;
            }
            op.CheckAfterRange(reader);
        }

        private void RequireVmGpa(Node step, VmBounds? vm, string what)
        {
            if (vm is null) throw Fail(step, $"{what} needs \"vm\" with \"gpa\"");
            if (step.Get("gpa") is null) throw Fail(step, $"{what} needs \"gpa\" with \"vm\"");
        }

        /// <summary>[gpa, gpa + extent) must lie inside the VM's memory, computed without wrapping.</summary>
        internal void CheckGpaRange(Node at, VmBounds vm, ulong gpa, ulong extent, string? extentName, string what, string gpaName = "gpa")
        {
            var node = at.Get(gpaName) ?? at;
            if (gpa >= vm.Memory)
                throw Fail(node, $"{what}: {gpaName} 0x{gpa:x} is outside VM {NameHints.Quote(vm.Name)}, whose memory is {ScenarioLimits.Format(vm.Memory)} (gpa 0 to 0x{vm.Memory - 1:x}); use a smaller {gpaName} or give the VM more memory");
            if (!ScenarioLimits.Inside(gpa, extent, vm.Memory))
                throw Fail(extentName is not null && at.Get(extentName) is { } extentNode ? extentNode : node, $"{what}: {gpaName} 0x{gpa:x} + {extentName} 0x{extent:x} runs past the end of VM {NameHints.Quote(vm.Name)}, whose memory is {ScenarioLimits.Format(vm.Memory)}; keep {gpaName} + {extentName} within {ScenarioLimits.Format(vm.Memory)} or give the VM more memory");
        }

        private Expectation Expectation(Node node)
        {
            var json = node.Element.Clone();
            if (node.Kind == JsonValueKind.String)
                return new Expectation { Kind = OneOf(node, OutcomeNames, ", or an object with one of: " + string.Join(", ", OutcomeObjectKeys), "outcome"), Json = json };
            if (node.Kind != JsonValueKind.Object)
                throw Fail(node, $"expected an outcome: one of {string.Join(", ", OutcomeNames.Select(n => '"' + n.Name + '"'))}, or an object with one of: {string.Join(", ", OutcomeObjectKeys)}; not {Describe(node)}");

            if (node.Get("ok") is { } ok)
            {
                CheckProperties(node, ["ok"], "key of an ok outcome");
                ExpectObject(ok, "{\"data\": \"0x00\"} or {\"count\": 1} or {}");
                CheckProperties(ok, ["data", "count"], "field of an ok outcome");
                return new Expectation
                {
                    Kind = OutcomeKind.Ok,
                    Data = ok.Get("data") is { } data ? Data(data) : null,
                    Count = ok.Get("count") is { } count ? Integer(count, 0, long.MaxValue) : null,
                    Json = json,
                };
            }
            if (node.Get("sigbus") is { } sigbus)
            {
                CheckProperties(node, ["sigbus"], "key of a sigbus outcome");
                ExpectObject(sigbus, "{\"code\": \"BUS_MCEERR_AR\", \"lsb\": 12}");
                CheckProperties(sigbus, ["code", "lsb"], "field of a sigbus outcome");
                var code = OneOf(Required(sigbus, "code", "a sigbus outcome"), SigBusCodes);
                var lsbNode = sigbus.Get("lsb");
                if (code == SigBusCode.SI_KERNEL && lsbNode is { } noLsb)
                    throw FailAtName(noLsb, "a SIGBUS with code SI_KERNEL (a plain force_sig) carries no address and no lsb; remove \"lsb\"");
                return new Expectation
                {
                    Kind = OutcomeKind.SigBus,
                    SigBusCode = code,
                    Lsb = lsbNode is { } lsb ? (int)Integer(lsb, 0, 63) : null,
                    Json = json,
                };
            }
            if (node.Get("kvm-exit") is { } exit)
            {
                CheckProperties(node, ["kvm-exit", "errno"], "key of a kvm-exit outcome");
                ExpectObject(exit, "{\"reason\": \"MEMORY_FAULT\", \"flags\": [\"PRIVATE\"], \"gpa\": \"0x1000\", \"size\": \"4K\"}");
                CheckProperties(exit, ["reason", "flags", "gpa", "size"], "field of a kvm-exit outcome");
                List<string>? exitFlags = null;
                if (exit.Get("flags") is { } flagsNode)
                {
                    ExpectArray(flagsNode, "a list like [\"PRIVATE\"]");
                    exitFlags = flagsNode.Items().Select(NonEmptyString).ToList();
                }
                return new Expectation
                {
                    Kind = OutcomeKind.KvmExit,
                    ExitReason = NonEmptyString(Required(exit, "reason", "a kvm-exit outcome")),
                    ExitFlags = exitFlags,
                    ExitGpa = OptionalSize(exit, "gpa"),
                    ExitSize = OptionalSize(exit, "size"),
                    Errno = node.Get("errno") is { } exitErrno ? Errno(exitErrno) : null,
                    Json = json,
                };
            }
            if (node.Get("errno") is { } errno)
            {
                CheckProperties(node, ["errno"], "key of an errno outcome");
                return new Expectation { Kind = OutcomeKind.Errno, Errno = Errno(errno), Json = json };
            }
            if (node.Get("killed") is { } killed)
            {
                CheckProperties(node, ["killed"], "key of a killed outcome");
                return new Expectation { Kind = OutcomeKind.Killed, Signal = NonEmptyString(killed), Json = json };
            }
            if (node.Get("state") is { } state)
            {
                CheckProperties(node, ["state"], "key of a state outcome");
                return new Expectation { Kind = OutcomeKind.State, State = State(state), Json = json };
            }
            var first = node.Properties().FirstOrDefault();
            if (first.Name is null)
                throw Fail(node, $"an outcome object needs one of: {string.Join(", ", OutcomeObjectKeys)}");
            throw FailAtName(first.Value, $"unknown outcome {NameHints.Quote(first.Name)}{NameHints.DidYouMean(first.Name, OutcomeObjectKeys.Concat(OutcomeNames.Select(n => n.Name)))}; use one of: {string.Join(", ", OutcomeObjectKeys)}");
        }

        private Dictionary<string, JsonElement> State(Node node)
        {
            ExpectObject(node, "{\"hwpoison\": true, \"owner\": \"td1\"}");
            CheckProperties(node, StateFields, "state field");
            var fields = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
            foreach (var (name, value) in node.Properties())
            {
                if (StateBoolFields.Contains(name))
                    Bool(value);
                else if (name is "owner" or "pfn" or "pte")
                {
                    if (value.Kind is not (JsonValueKind.String or JsonValueKind.Null))
                        throw Fail(value, $"\"{name}\" is a string or null, not {Describe(value)}");
                }
                else if (name is "refcount" or "mapcount" or "hwpEntryRefs")
                {
                    Integer(value, 0, int.MaxValue);
                }
                else
                {
                    ExpectObject(value, "{\"poisoned\": 1}");
                    CheckProperties(value, ["poisoned"], "field of \"lines\"");
                    if (value.Get("poisoned") is { } poisoned) Integer(poisoned, 0, PageGeometry.LinesPerPage);
                }
                fields[name] = value.Element.Clone();
            }
            return fields;
        }

        private Errno Errno(Node node)
        {
            var text = String(node);
            if (!ErrnoPattern().IsMatch(text) || !Enum.TryParse<Errno>(text, ignoreCase: false, out var errno) || !Enum.IsDefined(errno))
                throw Fail(node, $"unknown errno {NameHints.Quote(text)}{NameHints.DidYouMean(text, Enum.GetNames<Errno>())}; use one of: {string.Join(", ", Enum.GetNames<Errno>())}");
            return errno;
        }

        internal byte[] Data(Node node)
        {
            if (node.Kind == JsonValueKind.String)
            {
                var text = node.Element.GetString()!;
                if (!HexBytesPattern().IsMatch(text))
                    throw Fail(node, $"{DataHint} (an even number of hex digits after 0x), not {Describe(node)}");
                CountData(node, (ulong)(text.Length - 2) / 2);
                return Convert.FromHexString(text.AsSpan(2));
            }
            if (node.Kind != JsonValueKind.Object)
                throw Fail(node, $"{DataHint}, not {Describe(node)}");
            if (node.Get("fill") is { } fill)
            {
                CheckProperties(node, ["fill", "len"], "field of fill data");
                var fillText = String(fill);
                if (!HexBytesPattern().IsMatch(fillText) || fillText.Length - 2 > 2 * (int)ScenarioLimits.MaxDataBytes)
                    throw Fail(fill, $"\"fill\" is hex bytes like \"0xaa\", not {Describe(fill)}");
                var unit = Convert.FromHexString(fillText.AsSpan(2));
                var lenNode = Required(node, "len", "fill data");
                var length = DataLength(lenNode);
                CountData(lenNode, (ulong)length);
                var bytes = new byte[length];
                // Repeat the unit by doubling what is already filled.
                var filled = Math.Min(unit.Length, length);
                unit.AsSpan(0, filled).CopyTo(bytes);
                for (; filled < length; filled *= 2) bytes.AsSpan(0, Math.Min(filled, length - filled)).CopyTo(bytes.AsSpan(filled));
                return bytes;
            }
            if (node.Get("pattern") is { } pattern)
            {
                CheckProperties(node, ["pattern", "len"], "field of pattern data");
                if (pattern.Kind != JsonValueKind.Number || !pattern.Element.TryGetInt64(out var seed))
                    throw Fail(pattern, $"\"pattern\" is an integer seed like 7, not {Describe(pattern)}");
                var lenNode = Required(node, "len", "pattern data");
                var length = DataLength(lenNode);
                CountData(lenNode, (ulong)length);
                return PatternBytes.Generate(seed, length);
            }
            var first = node.Properties().FirstOrDefault();
            if (first.Name is not null && first.Name != "len")
                throw FailAtName(first.Value, $"unknown data field {NameHints.Quote(first.Name)}{NameHints.DidYouMean(first.Name, ["fill", "pattern", "len"])}; {DataHint}");
            throw Fail(node, DataHint);
        }

        /// <summary>Counts a data value against the scenario's total (<see cref="ScenarioLimits.MaxScenarioDataBytes"/>) before it is built.</summary>
        private void CountData(Node node, ulong length)
        {
            if (length > ScenarioLimits.MaxDataBytes)
                throw Fail(node, $"a data value is at most {ScenarioLimits.Format(ScenarioLimits.MaxDataBytes)}, not {ScenarioLimits.Format(length)}; use less data");
            _dataBytes += length;
            if (_dataBytes > ScenarioLimits.MaxScenarioDataBytes)
                throw Fail(node, $"the scenario's data values come to {ScenarioLimits.Format(_dataBytes)} with this one, more than the limit of {ScenarioLimits.Format(ScenarioLimits.MaxScenarioDataBytes)} per scenario; use less data or split the scenario");
        }

        /// <summary>The <c>len</c> of fill or pattern data: 1 byte to <see cref="ScenarioLimits.MaxDataBytes"/>.</summary>
        private int DataLength(Node node)
        {
            var length = Size(node);
            if (length == 0 || length > ScenarioLimits.MaxDataBytes)
                throw Fail(node, $"data \"len\" must be between 1 and {ScenarioLimits.Format(ScenarioLimits.MaxDataBytes)}, not {Describe(node)}");
            return (int)length;
        }

        /// <summary>A read's <c>len</c>: the simulator allocates that buffer, so it is held to the data limit too.</summary>
        internal ulong ReadLength(Node node)
        {
            var length = Size(node);
            if (length == 0 || length > ScenarioLimits.MaxDataBytes)
                throw Fail(node, $"\"len\" must be between 1 and {ScenarioLimits.Format(ScenarioLimits.MaxDataBytes)}, not {Describe(node)}");
            return length;
        }

        internal ulong? OptionalSize(Node owner, string property) => owner.Get(property) is { } node ? Size(node) : null;

        private ulong Size(Node node)
        {
            var problem = SizeProblem.Malformed;
            switch (node.Kind)
            {
                case JsonValueKind.Number when node.Element.TryGetUInt64(out var number):
                    return number;
                case JsonValueKind.Number:
                    var raw = node.Element.GetRawText();
                    problem = raw.StartsWith('-') ? SizeProblem.Negative
                        : raw.Contains('.', StringComparison.Ordinal) || raw.Contains('e', StringComparison.OrdinalIgnoreCase) ? SizeProblem.Fraction
                        : SizeProblem.TooLarge;
                    break;
                case JsonValueKind.String:
                    problem = ParseSizeText(node.Element.GetString()!, out var size);
                    if (problem == SizeProblem.None) return size;
                    break;
            }
            throw Fail(node, problem switch
            {
                SizeProblem.Negative => $"\"{node.Name}\" must not be negative, not {Describe(node)}; {SizeHint}",
                SizeProblem.Fraction => $"\"{node.Name}\" must be a whole number of bytes, not {Describe(node)}; {SizeHint}",
                SizeProblem.TooLarge => $"\"{node.Name}\" is {Describe(node)}, which does not fit in 64 bits (at most 0xffffffffffffffff); use a smaller value",
                _ => $"{SizeHint} for \"{node.Name}\", not {Describe(node)}",
            });
        }

        internal long Integer(Node node, long min, long max)
        {
            if (node.Kind != JsonValueKind.Number || !node.Element.TryGetInt64(out var value))
            {
                if (node.Kind == JsonValueKind.Number && !node.Element.GetRawText().Contains('.', StringComparison.Ordinal) && !node.Element.GetRawText().Contains('e', StringComparison.OrdinalIgnoreCase))
                    throw Fail(node, $"\"{node.Name}\" must be between {min} and {max}, not {Describe(node)}");
                throw Fail(node, $"\"{node.Name}\" is an integer, not {Describe(node)}");
            }
            if (value < min || value > max)
                throw Fail(node, max == long.MaxValue || max == int.MaxValue
                    ? $"\"{node.Name}\" must be at least {min}, not {value}"
                    : $"\"{node.Name}\" must be between {min} and {max}, not {value}");
            return value;
        }

        internal bool Bool(Node node) => node.Kind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw Fail(node, $"\"{node.Name}\" is true or false, not {Describe(node)}"),
        };

        private string String(Node node) =>
            node.Kind == JsonValueKind.String ? node.Element.GetString()! : throw Fail(node, $"\"{node.Name}\" is a string, not {Describe(node)}");

        private string NonEmptyString(Node node)
        {
            var text = String(node);
            return text.Length > 0 ? text : throw Fail(node, $"\"{node.Name}\" must not be empty");
        }

        internal T OneOf<T>(Node node, (string Name, T Value)[] choices, string extra = "", string? label = null)
        {
            label ??= node.Name;
            var list = string.Join(", ", choices.Select(c => c.Name));
            if (node.Kind != JsonValueKind.String)
                throw Fail(node, $"expected {label} as one of: {list}{extra}; not {Describe(node)}");
            var text = node.Element.GetString()!;
            foreach (var (name, value) in choices)
                if (name == text) return value;
            throw Fail(node, $"unknown {label} {NameHints.Quote(text)}{NameHints.DidYouMean(text, choices.Select(c => c.Name))}; use one of: {list}{extra}");
        }

        private Node Required(Node owner, string property, string what) =>
            owner.Get(property) ?? throw Fail(owner, $"{what} needs \"{property}\"");

        private void ExpectObject(Node node, string example)
        {
            if (node.Kind != JsonValueKind.Object)
                throw Fail(node, $"{(node.IsItem ? "each item of " : "")}\"{node.Name}\" is an object like {example}, not {Describe(node)}");
        }

        internal void ExpectArray(Node node, string example)
        {
            if (node.Kind != JsonValueKind.Array)
                throw Fail(node, $"\"{node.Name}\" is {example}, not {Describe(node)}");
        }

        private void CheckProperties(Node node, string[] allowed, string what)
        {
            foreach (var (name, value) in node.Properties())
                if (!allowed.Contains(name))
                    throw FailAtName(value, $"unknown {what} {NameHints.Quote(name)}{NameHints.DidYouMean(name, allowed)}; use one of: {string.Join(", ", allowed)}");
        }

        private SourceLocation Location(Node node) => map.ValueOf(node.Path);

        internal ScenarioException Fail(Node node, string message) => new(message, map.ValueOf(node.Path));

        private ScenarioException FailAtName(Node node, string message) => new(message, map.NameOf(node.Path));

        private static string Describe(Node node) => node.Kind switch
        {
            JsonValueKind.Object => "an object",
            JsonValueKind.Array => "a list",
            _ => NameHints.Shorten(node.Element.GetRawText()),
        };
    }
}
